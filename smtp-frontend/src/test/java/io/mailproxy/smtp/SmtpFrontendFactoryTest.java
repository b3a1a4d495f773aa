package io.mailproxy.smtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ConfigException;
import io.mailproxy.core.spi.FrontendFactory;
import io.mailproxy.smtp.session.SmtpSettings;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class SmtpFrontendFactoryTest {

    private static Config smtpSection(String overrides) {
        return ConfigFactory.parseString(overrides).withFallback(ConfigFactory.defaultReference())
                .resolve().getConfig("mailproxy.smtp");
    }

    @Test
    void registeredForServiceLoader() {
        assertThat(ServiceLoader.load(FrontendFactory.class).stream().map(ServiceLoader.Provider::get)
                .filter(f -> f instanceof SmtpFrontendFactory)).singleElement()
                .satisfies(f -> assertThat(f.protocol()).isEqualTo(Protocol.SMTP));
    }

    @Test
    void referenceConfDefaults() {
        SmtpSettings s = SmtpSettings.from(smtpSection("mailproxy.smtp.hostname = mx.example"), "test.conf");
        assertThat(s).isEqualTo(SmtpSettingsBuilder.defaults().hostname("mx.example").headerLimit(64 * 1024).build());
        assertThat(SmtpSettings.from(smtpSection(""), "test.conf").hostname()).isNotEmpty();
    }

    @Test
    void toleranceWidensTheLineLimit() {
        assertThat(SmtpSettings.from(smtpSection("mailproxy.smtp.line-tolerance = 24"), "t").maxLine()).isEqualTo(1024);
    }

    @Test
    void badValuesNameTheKey() {
        assertThatThrownBy(() -> SmtpSettings.from(smtpSection("mailproxy.smtp.line-limit = 100"), "/etc/mailproxy.conf"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("/etc/mailproxy.conf")
                .hasMessageContaining("mailproxy.smtp").hasMessageContaining("at least 512");
        assertThatThrownBy(() -> SmtpSettings.from(smtpSection("mailproxy.smtp.idle-timeout = soon"), "x.conf"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("idle-timeout");
    }

    @Test
    void refuseAnswers421AndCloses() {
        SmtpFrontend frontend = new SmtpFrontend(null, Fixture.settings(1 << 20, 4096));
        EmbeddedChannel ch = new EmbeddedChannel();
        try {
            frontend.refuse(ch, "too many connections");
            ByteBuf out = ch.readOutbound();
            assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("421 4.3.2 mx.test too many connections\r\n");
            out.release();
            assertThat(ch.isOpen()).isFalse();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void createsFromTheDaemonsConfigLoader() {
        io.mailproxy.core.config.MailproxyConfig config = io.mailproxy.core.config.ConfigLoader.parse(
                "mailproxy.smtp { hostname = relay.contoso.com, max-message-size = 10 MiB, line-tolerance = 100 }",
                "inline");
        assertThat(SmtpSettings.from(config.section("smtp"), config.source()))
                .extracting(SmtpSettings::hostname, SmtpSettings::maxMessageSize, SmtpSettings::maxLine)
                .containsExactly("relay.contoso.com", 10L * 1024 * 1024, 1100);
    }

    @Test
    void unknownSmtpKeyIsAConfigError() {
        assertThatThrownBy(() -> io.mailproxy.core.config.ConfigLoader.parse("mailproxy.smtp.line-limt = 2000", "inline"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("line-limt");
    }
}
