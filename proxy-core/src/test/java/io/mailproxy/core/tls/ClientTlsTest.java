package io.mailproxy.core.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.config.UpstreamEndpoint;
import io.mailproxy.testkit.TestCertificates;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import javax.net.ssl.SSLException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ClientTlsTest {

    @TempDir
    Path dir;

    private static UpstreamConfig upstream(String name, Optional<Path> ca) {
        UpstreamEndpoint ep = UpstreamEndpoint.parse("imaps://127.0.0.1:993");
        return new UpstreamConfig(name, Optional.empty(), Map.of(Protocol.IMAP, ep),
                Optional.empty(), UpstreamConfig.Sending.SMTP, ca,
                Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(1));
    }

    @Test
    void usesBoringSslWhenItLoads() {
        assertThat(new ClientTls().provider()).isEqualTo(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK);
    }

    @Test
    void cachesOneContextPerCaFile() throws Exception {
        ClientTls tls = new ClientTls();
        Path ca = TestCertificates.shared().caPem();
        SslContext a = tls.context(upstream("a", Optional.of(ca)));
        assertThat(tls.context(upstream("b", Optional.of(ca)))).isSameAs(a);
        assertThat(tls.context(upstream("a", Optional.empty()))).isNotSameAs(a);
        assertThat(tls.context(upstream("c", Optional.empty()))).isSameAs(tls.context(upstream("a", Optional.empty())));
    }

    @ParameterizedTest
    @EnumSource(value = SslProvider.class, names = {"JDK", "OPENSSL"})
    void handlersOfferOnlyTls12And13AndCheckTheHostName(SslProvider provider) throws Exception {
        ClientTls tls = new ClientTls(provider);
        SslHandler h = tls.newHandler(upstream("a", Optional.of(TestCertificates.shared().caPem())),
                ByteBufAllocator.DEFAULT, "outlook.office365.com", 993);
        try {
            // Netty's OpenSSL engine always lists the SSLv2Hello pseudo-protocol; BoringSSL never sends one
            assertThat(h.engine().getEnabledProtocols()).filteredOn(p -> !p.equals("SSLv2Hello"))
                    .containsExactlyInAnyOrder("TLSv1.2", "TLSv1.3");
            assertThat(h.engine().getSSLParameters().getEndpointIdentificationAlgorithm()).isEqualTo("HTTPS");
            assertThat(h.engine().getPeerHost()).isEqualTo("outlook.office365.com");
            assertThat(h.engine().getUseClientMode()).isTrue();
        } finally {
            ReferenceCountUtil.release(h.engine());
        }
    }

    @Test
    void missingCaFileIsReportedWithItsName() {
        Path missing = dir.resolve("missing.pem");
        assertThatThrownBy(() -> new ClientTls().context(upstream("corp", Optional.of(missing))))
                .isInstanceOf(SSLException.class).hasMessageContaining("missing.pem").hasMessageContaining("corp");
    }

    @Test
    void caFileWithoutCertificatesIsRefused() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.pem"), "not a certificate\n");
        assertThatThrownBy(() -> new ClientTls().context(upstream("corp", Optional.of(empty))))
                .isInstanceOf(SSLException.class).hasMessageContaining("corp");
    }
}
