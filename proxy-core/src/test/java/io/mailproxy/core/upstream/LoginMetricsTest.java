package io.mailproxy.core.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.testkit.Office365;
import io.mailproxy.testkit.ScriptedUpstream;
import io.mailproxy.testkit.TestCertificates;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@code mailproxy.upstream.logins} after real logins against the scripted Office 365 upstreams. */
class LoginMetricsTest {

    private static final String MAILBOX = "reports@contoso.com";
    private static final String TOKEN = "EwBwA8l6BAAUO9chh8cJscQLmU+LSWpbnr0vmwwAAXRoken";
    private static final String WRONG_TOKEN = "EwBwA8l6BAAUO9chh8cJscQLmU+WRONGwAAXRoken";
    private static final TestCertificates CERTS = TestCertificates.shared();

    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final ConnectorFixture fixture = new ConnectorFixture().caFile(CERTS.caPem()).meters(meters);

    @AfterEach
    void close() {
        fixture.close();
        meters.close();
    }

    private double logins(String protocol, String outcome) {
        Counter c = meters.find("mailproxy.upstream.logins").tag("account", MAILBOX).tag("protocol", protocol)
                .tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void everyLoginIsCountedByAccountProtocolAndOutcome() throws Exception {
        try (ScriptedUpstream imap = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).start();
             ScriptedUpstream smtp = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            fixture.bearer(MAILBOX, TOKEN);
            fixture.session("imaps://127.0.0.1:" + imap.port());
            fixture.session("imaps://127.0.0.1:" + imap.port());
            fixture.session("smtp+starttls://127.0.0.1:" + smtp.port());
            fixture.bearer(MAILBOX, WRONG_TOKEN);
            fixture.failure("imaps://127.0.0.1:" + imap.port());
        }
        int closed;
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            closed = s.getLocalPort();
        }
        fixture.failure("pop3s://127.0.0.1:" + closed);

        // counted when the attempt completes, on the thread that completes it: maybe just after the caller saw it
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).untilAsserted(() -> {
            assertThat(logins("imap", "ok")).isEqualTo(2);
            assertThat(logins("smtp", "ok")).isEqualTo(1);
            assertThat(logins("imap", "credentials_rejected")).isEqualTo(1);
            assertThat(logins("pop3", "unreachable")).isEqualTo(1);
        });
        String scrape = meters.scrape();
        assertThat(scrape).contains("mailproxy_upstream_logins_total{account=\"reports@contoso.com\",outcome=\"ok\","
                + "protocol=\"imap\"} 2.0");
        assertThat(scrape).doesNotContain(TOKEN).doesNotContain(WRONG_TOKEN);
    }

    @Test
    void aCallerThatGivesUpFirstIsCountedAsAbandoned() throws Exception {
        fixture.bearer(MAILBOX, TOKEN).credentials(CompletableFuture::new); // credentials that never come
        try (ScriptedUpstream imap = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            CompletableFuture<UpstreamSession> f = fixture.connect("imaps://127.0.0.1:" + imap.port());
            f.cancel(false);
        }
        assertThat(logins("imap", "abandoned")).isEqualTo(1);
    }
}
