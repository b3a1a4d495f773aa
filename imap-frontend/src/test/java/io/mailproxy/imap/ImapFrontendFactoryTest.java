package io.mailproxy.imap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.spi.FrontendFactory;
import io.mailproxy.testkit.core.FakeCore;
import java.time.Duration;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class ImapFrontendFactoryTest {

    @Test
    void isFoundThroughServiceLoader() {
        assertThat(ServiceLoader.load(FrontendFactory.class).stream().map(ServiceLoader.Provider::get)
                .filter(f -> f.protocol() == Protocol.IMAP).toList())
                .singleElement().isInstanceOf(ImapFrontendFactory.class);
    }

    @Test
    void refuseSaysByeUnavailable() {
        io.netty.channel.embedded.EmbeddedChannel ch = new io.netty.channel.embedded.EmbeddedChannel();
        try {
            new ImapFrontend(new FakeCore().withClock(FakeCore.FIXED_CLOCK)).refuse(ch, "too many connections");
            io.netty.buffer.ByteBuf out = ch.readOutbound();
            assertThat(out.toString(java.nio.charset.StandardCharsets.US_ASCII))
                    .isEqualTo("* BYE [UNAVAILABLE] too many connections\r\n");
            out.release();
            assertThat(ch.isOpen()).isFalse();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void referenceConfHoldsTheDocumentedDefaults() {
        ImapSettings s = ImapSettings.from(ConfigFactory.defaultReference().getConfig("mailproxy.imap"));
        assertThat(s).isEqualTo(ImapSettings.DEFAULTS);
        assertThat(s.loginTimeout()).isEqualTo(Duration.ofSeconds(60));
        assertThat(s.idleTimeout()).isEqualTo(Duration.ofMinutes(30));
        assertThat(s.handoverLimit()).isEqualTo(16 * 1024 * 1024);
    }

    @Test
    void overridesAreRead() {
        ImapSettings s = ImapSettings.from(ConfigFactory.parseString("login-timeout = 5s, max-line-length = 8k")
                .withFallback(ConfigFactory.defaultReference().getConfig("mailproxy.imap")));
        assertThat(s.loginTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(s.maxLineLength()).isEqualTo(8192);
        assertThat(ImapSettings.from(ConfigFactory.parseString("handover-limit = 32m")
                .withFallback(ConfigFactory.defaultReference().getConfig("mailproxy.imap"))).handoverLimit())
                .isEqualTo(32 * 1024 * 1024);
        assertThatThrownBy(() -> ImapSettings.from(ConfigFactory.parseString("max-line-length = 10")
                .withFallback(ConfigFactory.defaultReference().getConfig("mailproxy.imap"))))
                .hasMessageContaining("max-line-length");
    }
}
