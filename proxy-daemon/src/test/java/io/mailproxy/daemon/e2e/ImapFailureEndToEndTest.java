package io.mailproxy.daemon.e2e;

import static io.mailproxy.daemon.e2e.E2eFixture.ALICE;
import static io.mailproxy.daemon.e2e.E2eFixture.ALICE_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU;
import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU_PW;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What an IMAP client sees through the assembled daemon when the token endpoint or the upstream is down. */
class ImapFailureEndToEndTest {

    @TempDir
    Path state;

    private static String login(E2eFixture f, String user, String password) throws IOException {
        try (LineClient c = LineClient.connect(f.imap())) {
            c.line();
            return c.imap("a", "LOGIN " + user + " " + password).get(0);
        }
    }

    @Test
    void tokenEndpointAnsweringErrorsIsUnavailableWithALogLineAndRecovers() throws Exception {
        try (LogCapture log = new LogCapture(Level.INFO);
             E2eFixture f = E2eFixture.start(state, "", idp -> idp.failWith(500))) {
            assertThat(login(f, ALICE, ALICE_PW)).startsWith("a NO [UNAVAILABLE]");
            assertThat(log.lines()).anyMatch(l -> l.contains(E2eFixture.OAUTH_MAILBOX) && l.contains("500"));
            // the password account does not depend on the identity platform
            assertThat(login(f, PASSTHRU, PASSTHRU_PW)).startsWith("a OK");

            f.idp.failWith(0);
            await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(500))
                    .until(() -> login(f, ALICE, ALICE_PW).startsWith("a OK"));
        }
    }

    @Test
    void tokenEndpointGoneIsUnavailable() throws Exception {
        try (LogCapture log = new LogCapture(Level.INFO);
             E2eFixture f = E2eFixture.start(state, "", idp -> idp.stop())) {
            assertThat(login(f, ALICE, ALICE_PW)).startsWith("a NO [UNAVAILABLE]");
            assertThat(log.lines()).anyMatch(l -> l.contains(E2eFixture.OAUTH_MAILBOX) && l.toLowerCase().contains("token"));
        }
    }

    @Test
    void upstreamDownIsUnavailable() throws Exception {
        try (LogCapture log = new LogCapture(Level.INFO); E2eFixture f = E2eFixture.start(state)) {
            f.upstream.close();
            // idle pooled connections die with the server; new ones are refused
            await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(300))
                    .until(() -> login(f, PASSTHRU, PASSTHRU_PW).startsWith("a NO [UNAVAILABLE]"));
            await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(300))
                    .until(() -> login(f, ALICE, ALICE_PW).startsWith("a NO [UNAVAILABLE]"));
            assertThat(log.lines()).anyMatch(l -> l.contains(E2eFixture.PW_MAILBOX) && l.contains("127.0.0.1"));
        }
    }

    @Test
    void tokensShorterLivedThanTheMinimumTokenLifeStillServeLogins() throws Exception {
        try (E2eFixture f = E2eFixture.start(state, "", idp -> idp.expiresIn(Duration.ofMinutes(5)))) {
            assertThat(login(f, ALICE, ALICE_PW)).startsWith("a OK");
            assertThat(login(f, ALICE, ALICE_PW)).startsWith("a OK");
        }
    }
}
