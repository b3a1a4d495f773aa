package io.mailproxy.pop3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.config.ConfigException;
import io.mailproxy.core.spi.FrontendFactory;
import java.time.Duration;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class Pop3SettingsTest {

    @Test
    void defaultsFollowTheRfcs() {
        Pop3Settings s = Pop3Settings.defaults();
        assertThat(s.lineLimit()).isEqualTo(255);
        assertThat(s.maxLineLength()).isEqualTo(1024);
        assertThat(s.idleTimeout()).isEqualTo(Duration.ofMinutes(10));
        assertThat(s.topFetchInitial()).isEqualTo(4096);
    }

    /** Issue 15 item 2: the same recovery defaults as the IMAP frontend's, and 0 turns recovery off. */
    @Test
    void recoveryFromAnEndedUpstreamIsCappedAndBacksOff() {
        Pop3Settings s = Pop3Settings.defaults();
        assertThat(s.recoveryAttempts()).isEqualTo(4);
        assertThat(s.recoveryBackoff()).isEqualTo(Duration.ofSeconds(1));
        assertThat(Pop3Settings.from(ConfigFactory.parseString("recovery-attempts = 0")).recoveryAttempts()).isZero();
        assertThatThrownBy(() -> Pop3Settings.from(ConfigFactory.parseString("recovery-attempts = -1")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("recovery-attempts");
    }

    @Test
    void overridesAndBadValuesNameTheKey() {
        Pop3Settings s = Pop3Settings.from(ConfigFactory.parseString("line-tolerance = 0, idle-timeout = 15m"));
        assertThat(s.maxLineLength()).isEqualTo(255);
        assertThat(s.idleTimeout()).isEqualTo(Duration.ofMinutes(15));
        assertThatThrownBy(() -> Pop3Settings.from(ConfigFactory.parseString("idle-timeout = soon")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("mailproxy.pop3").hasMessageContaining("idle-timeout");
        assertThatThrownBy(() -> Pop3Settings.from(ConfigFactory.parseString("abusive-line-length = 100")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("abusive-line-length must exceed");
    }

    @Test
    void factoryIsFoundByServiceLoader() {
        assertThat(ServiceLoader.load(FrontendFactory.class).stream().map(p -> p.type().getName()))
                .contains(Pop3FrontendFactory.class.getName());
    }
}
