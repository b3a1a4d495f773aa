package io.mailproxy.daemon.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MaskingJsonEncoderTest {

    @Test
    void writesOneJsonLinePerEventWithTheMessageMaskedAndNoArguments() {
        LoggerContext context = new LoggerContext();
        Logger logger = context.getLogger("io.mailproxy.test");
        MaskingJsonEncoder encoder = new MaskingJsonEncoder();
        encoder.setContext(context);
        encoder.setWithMessage(true);      // refused: the template is not masked
        encoder.setWithArguments(true);    // refused: arguments are where a secret hides
        encoder.setWithSequenceNumber(false);
        encoder.setWithNanoseconds(false);
        encoder.setWithContext(false);
        encoder.start();
        LoggingEvent event = new LoggingEvent("x", logger, Level.INFO,
                "upstream said {} for {}", null, new Object[] {"auth=Bearer abc.def-123", "it \"admin\""});
        event.setMDCPropertyMap(Map.of("session", "imap-1"));
        event.setTimeStamp(0);

        String line = new String(encoder.encode(event), StandardCharsets.UTF_8);

        assertThat(line).endsWith("}\n").doesNotContain("abc.def-123").doesNotContain("\"message\"")
                .doesNotContain("arguments")
                .contains("\"level\":\"INFO\"")
                .contains("\"loggerName\":\"io.mailproxy.test\"")
                .contains("\"session\":\"imap-1\"")
                .contains("\"formattedMessage\":\"upstream said auth=Bearer **** for it \\\"admin\\\"\"");
        assertThat(line.indexOf('\n')).isEqualTo(line.length() - 1);
    }
}
