package io.mailproxy.core.upstream;

import static io.mailproxy.core.upstream.NettyUpstreamConnectorScriptedTest.assertHandedOver;
import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.tls.ClientTls;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.mailproxy.testkit.Office365;
import io.mailproxy.testkit.ScriptedUpstream;
import io.mailproxy.testkit.TestCertificates;
import io.netty.handler.ssl.SslProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The JDK TLS fallback (no BoringSSL) verifies chain and host name just the same. */
class NettyUpstreamConnectorJdkTlsTest {

    private static final String MAILBOX = "reports@contoso.com";
    private static final String TOKEN = "token-jdk";
    private static final TestCertificates CERTS = TestCertificates.shared();

    private final ConnectorFixture fixture = new ConnectorFixture().tls(new ClientTls(SslProvider.JDK))
            .bearer(MAILBOX, TOKEN).caFile(CERTS.caPem());

    @AfterEach
    void close() {
        fixture.close();
    }

    @Test
    void smtpStartTlsLogsIn() throws Exception {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            assertHandedOver(fixture.session("smtp+starttls://127.0.0.1:" + up.port()));
        }
    }

    @Test
    void untrustedCertificateIsATlsFailure() {
        try (ScriptedUpstream up = Office365.imap(CERTS.selfSigned()).account(MAILBOX, TOKEN).start()) {
            UpstreamException e = fixture.failure("imaps://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
            assertThat(e.getMessage()).contains("certificate not trusted");
        }
    }

    @Test
    void wrongHostIsATlsFailure() {
        try (ScriptedUpstream up = Office365.imap(CERTS.wrongHost()).account(MAILBOX, TOKEN).start()) {
            UpstreamException e = fixture.failure("imaps://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
            assertThat(e.getMessage()).contains("does not match the host name");
        }
    }
}
