package io.mailproxy.smtp.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.core.config.ConfigException;
import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class QueueSettingsTest {

    private static QueueSettings parse(String text) {
        MailproxyConfig config = ConfigLoader.parse(text, "inline");
        return QueueSettings.from(config.section("smtp").getConfig("queue"), config.source());
    }

    @Test
    void referenceConfDefaultsAreOffice365sLimits() {
        assertThat(parse("")).isEqualTo(QueueSettings.defaults());
        assertThat(QueueSettings.defaults().messagesPerMinute()).isEqualTo(30);
        assertThat(QueueSettings.defaults().recipientsPerDay()).isEqualTo(10_000);
        assertThat(QueueSettings.defaults().maxAge()).isEqualTo(Duration.ofDays(2));
        assertThat(QueueSettings.defaults().quotaDeferral()).isEqualTo(Duration.ofHours(24));
    }

    @Test
    void overridesThroughTheDaemonsLoader() {
        QueueSettings s = parse("mailproxy.smtp.queue { max-size = 2 GiB, messages-per-minute = 10,"
                + " bounce-to-admin = \"postmaster@contoso.com\", bounce-to-sender = true, fsync-window = 0 }");
        assertThat(s.maxSize()).isEqualTo(2L << 30);
        assertThat(s.messagesPerMinute()).isEqualTo(10);
        assertThat(s.bounceToAdmin()).isEqualTo(Optional.of("postmaster@contoso.com"));
        assertThat(s.bounceToSender()).isTrue();
        assertThat(s.fsyncWindow()).isZero();
    }

    @Test
    void badValuesNameTheKey() {
        assertThatThrownBy(() -> parse("mailproxy.smtp.queue.messages-per-minute = 0"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("mailproxy.smtp.queue")
                .hasMessageContaining("messages-per-minute");
        assertThatThrownBy(() -> parse("mailproxy.smtp.queue.bounce-to-admin = \"not an address\""))
                .isInstanceOf(ConfigException.class).hasMessageContaining("bounce-to-admin");
        assertThatThrownBy(() -> parse("mailproxy.smtp.queue.max-age = soon"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("max-age");
        assertThatThrownBy(() -> ConfigLoader.parse("mailproxy.smtp.queue.max-sise = 1G", "inline"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("max-sise");
    }
}
