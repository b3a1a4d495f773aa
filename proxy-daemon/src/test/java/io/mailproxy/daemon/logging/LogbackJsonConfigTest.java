package io.mailproxy.daemon.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.status.Status;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** conf/logback-json.xml, as an administrator would point -Dlogback.configurationFile at it. */
class LogbackJsonConfigTest {

    @Test
    void loadsWithoutWarningsAndUsesTheMaskingJsonEncoder() throws Exception {
        LoggerContext context = new LoggerContext();
        JoranConfigurator configurator = new JoranConfigurator();
        configurator.setContext(context);
        configurator.doConfigure(Path.of("..", "conf", "logback-json.xml").toFile());

        assertThat(context.getStatusManager().getCopyOfStatusList())
                .allSatisfy(s -> assertThat(s.getLevel()).as(s.toString()).isLessThan(Status.WARN));
        ConsoleAppender<?> console = (ConsoleAppender<?>) context.getLogger("ROOT").getAppender("CONSOLE");
        assertThat(console.getEncoder()).isInstanceOf(MaskingJsonEncoder.class);
        context.stop();
    }
}
