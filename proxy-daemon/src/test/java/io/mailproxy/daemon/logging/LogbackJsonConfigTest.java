package io.mailproxy.daemon.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.status.Status;
import java.io.File;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * conf/logback-json.xml and conf/logback.xml, as an administrator would point -Dlogback.configurationFile at them,
 * and the jar's own default: each loads without a warning and writes through the asynchronous queue (an event loop
 * never waits for the console), which keeps every event (no discarding).
 */
class LogbackJsonConfigTest {

    @Test
    void loadsWithoutWarningsAndUsesTheMaskingJsonEncoder() throws Exception {
        LoggerContext context = load(Path.of("..", "conf", "logback-json.xml").toFile());
        ConsoleAppender<?> console = (ConsoleAppender<?>) async(context).getAppender("CONSOLE");
        assertThat(console.getEncoder()).isInstanceOf(MaskingJsonEncoder.class);
        context.stop();
    }

    @Test
    void thePlainConfigAndTheJarsDefaultLoadWithoutWarningsAndWriteAsynchronously() throws Exception {
        LoggerContext conf = load(Path.of("..", "conf", "logback.xml").toFile());
        assertThat(async(conf).getAppender("CONSOLE")).isInstanceOf(ConsoleAppender.class);
        conf.stop();
        LoggerContext jar = load(Path.of("src", "main", "resources", "logback.xml").toFile());
        assertThat(async(jar).getAppender("STDERR")).isInstanceOf(ConsoleAppender.class);
        jar.stop();
    }

    private static LoggerContext load(File file) throws Exception {
        LoggerContext context = new LoggerContext();
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        configurator.doConfigure(file);
        assertThat(context.getStatusManager().getCopyOfStatusList())
                .allSatisfy(s -> assertThat(s.getLevel()).as(s.toString()).isLessThan(Status.WARN));
        return context;
    }

    private static AsyncAppender async(LoggerContext context) {
        AsyncAppender async = (AsyncAppender) context.getLogger("ROOT").getAppender("ASYNC");
        assertThat(async.getDiscardingThreshold()).as("no event dropped").isZero();
        return async;
    }
}
