package io.mailproxy.daemon.e2e;

import static io.mailproxy.daemon.e2e.E2eFixture.ALICE;
import static io.mailproxy.daemon.e2e.E2eFixture.ALICE_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.CLIENT_SECRET;
import static io.mailproxy.daemon.e2e.E2eFixture.OAUTH_MAILBOX;
import static org.assertj.core.api.Assertions.assertThat;

import jakarta.mail.Folder;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's /metrics after a real legacy login: upstream logins and OAuth token requests are there, no secret. */
class MetricsEndToEndTest {

    @TempDir
    Path state;

    private static double value(String scrape, String series) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(series) + " (\\S+)$").matcher(scrape);
        assertThat(m.find()).as(series + " in\n" + scrape).isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void upstreamLoginsAndTokenRequestsAreExposedWithoutSecrets() throws Exception {
        try (E2eFixture f = E2eFixture.start(state, "admin { enabled = true, bind = \"127.0.0.1\", port = 0 }")) {
            Properties p = new Properties();
            p.put("mail.imap.connectiontimeout", "10000");
            p.put("mail.imap.timeout", "10000");
            Store store = Session.getInstance(p).getStore("imap");
            store.connect(f.imap().getHostString(), f.imap().getPort(), ALICE, ALICE_PW);
            try {
                Folder inbox = store.getFolder("INBOX");
                inbox.open(Folder.READ_ONLY);
                inbox.close(false);
            } finally {
                store.close();
            }

            InetSocketAddress admin = f.daemon.adminAddress().orElseThrow();
            String scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + admin.getPort() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();

            assertThat(value(scrape, "mailproxy_upstream_logins_total{account=\"" + OAUTH_MAILBOX
                    + "\",outcome=\"ok\",protocol=\"imap\"}")).isGreaterThanOrEqualTo(1);
            assertThat(value(scrape, "mailproxy_oauth2_token_requests_total{grant=\"client-credentials\","
                    + "outcome=\"ok\",provider=\"fake\"}")).isGreaterThanOrEqualTo(1);
            Matcher expiry = Pattern.compile("(?m)^mailproxy_oauth2_token_expires_seconds\\{grant=\"client-credentials\","
                    + "principal=\"\",provider=\"fake\",scope=\"[^\"]*\"} (\\S+)$").matcher(scrape);
            assertThat(expiry.find()).as(scrape).isTrue();
            assertThat(Double.parseDouble(expiry.group(1))).isBetween(3000.0, 3600.0);
            assertThat(scrape).doesNotContain(CLIENT_SECRET).doesNotContain(ALICE_PW);
            assertThat(f.tokensSeen).isNotEmpty().allSatisfy(token -> assertThat(scrape).doesNotContain(token));
        }
    }
}
