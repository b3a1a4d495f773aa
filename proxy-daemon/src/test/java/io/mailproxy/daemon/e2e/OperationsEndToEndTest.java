package io.mailproxy.daemon.e2e;

import static io.mailproxy.daemon.e2e.E2eFixture.ALICE;
import static io.mailproxy.daemon.e2e.E2eFixture.ALICE_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU;
import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER_PW;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.daemon.control.ControlClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SMTP and POP3 failures, a secret stored while the daemon runs, and a reload, through the assembled daemon. */
class OperationsEndToEndTest {

    private static final String LATER_MAILBOX = "later@contoso.com";
    private static final String LATER_PW = "Later-upstream-pa55";
    private static final String LENA = "lena";
    private static final String LENA_PW = "lena-local-Secret-3";
    private static final String LATER = """
            accounts."%s" { upstream = gm, auth { type = password, password = "secret:later-pw" } }
            clients.%s { password = "%s", account = "%s" }
            """;

    @TempDir
    Path state;

    private static String smtpLine(LineClient c) throws Exception {
        String l;
        do {
            l = c.line();
        } while (l != null && l.length() > 3 && l.charAt(3) == '-');
        return l;
    }

    private static String imapLogin(E2eFixture f, String user, String password) throws Exception {
        try (LineClient c = LineClient.connect(f.imap())) {
            c.line();
            return c.imap("a", "LOGIN " + user + " " + password).get(0);
        }
    }

    private static String popPass(E2eFixture f, String user, String password) throws Exception {
        try (LineClient c = LineClient.connect(f.pop3())) {
            c.line();
            c.send("USER " + user);
            c.line();
            c.send("PASS " + password);
            return c.line();
        }
    }

    @Test
    void smtpWithTheTokenEndpointDownIsATemporaryErrorAtMail() throws Exception {
        try (E2eFixture f = E2eFixture.start(state, "", idp -> idp.failWith(503));
             LineClient c = LineClient.connect(f.smtp())) {
            smtpLine(c);
            c.send("EHLO legacy.example");
            smtpLine(c);
            c.send("AUTH PLAIN " + Base64.getEncoder().encodeToString(("\0" + ALICE + "\0" + ALICE_PW)
                    .getBytes(StandardCharsets.UTF_8)));
            assertThat(smtpLine(c)).startsWith("235 ");
            c.send("MAIL FROM:<reports@contoso.com>");
            assertThat(smtpLine(c)).matches("(451 4\\.4\\.1|454 4\\.7\\.0) .*");
        }
    }

    @Test
    void pop3WithTheUpstreamDownIsSysTemp() throws Exception {
        Assumptions.assumeTrue(E2eFixture.hasPop3());
        try (E2eFixture f = E2eFixture.start(state)) {
            f.upstream.close();
            await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(300))
                    .until(() -> popPass(f, POPPER, POPPER_PW).startsWith("-ERR [SYS/TEMP]"));
            assertThat(popPass(f, PASSTHRU, PASSTHRU_PW)).startsWith("-ERR [SYS/TEMP]");
        }
    }

    @Test
    void aSecretStoredThroughTheControlSocketTakesEffectWithoutRestart() throws Exception {
        String extra = LATER.formatted(LATER_MAILBOX, LENA, E2eFixture.hash(LENA_PW), LATER_MAILBOX);
        try (E2eFixture f = E2eFixture.start(state, extra)) {
            f.upstream.passwordUser(LATER_MAILBOX, LATER_PW);
            assertThat(imapLogin(f, LENA, LENA_PW)).startsWith("a NO [UNAVAILABLE]");
            new ControlClient(state).putSecret("later-pw", LATER_PW);
            await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(300))
                    .until(() -> imapLogin(f, LENA, LENA_PW).startsWith("a OK"));
        }
    }

    @Test
    void reloadAddsAClientAndKeepsTheListeners() throws Exception {
        try (E2eFixture f = E2eFixture.start(state)) {
            f.upstream.passwordUser(LATER_MAILBOX, LATER_PW);
            new ControlClient(state).putSecret("later-pw", LATER_PW);
            var before = f.daemon.boundAddresses();
            assertThat(imapLogin(f, LENA, LENA_PW)).startsWith("a NO [AUTHENTICATIONFAILED]");
            f.daemon.reload(ConfigLoader.parse(E2eFixture.config(state, f.upstream, f.idp,
                    LATER.formatted(LATER_MAILBOX, LENA, E2eFixture.hash(LENA_PW), LATER_MAILBOX)), "e2e.conf"));
            assertThat(f.daemon.boundAddresses()).isEqualTo(before);
            assertThat(imapLogin(f, LENA, LENA_PW)).startsWith("a OK");
            assertThat(imapLogin(f, ALICE, ALICE_PW)).startsWith("a OK");
        }
    }

    /** After a reload that moves an account to another server, no session is served by a pooled old connection. */
    @Test
    void reloadMovingAnAccountToAnotherUpstreamIsServedByTheNewOne() throws Exception {
        try (E2eFixture f = E2eFixture.start(state);
             io.mailproxy.testkit.GreenMailUpstream other = io.mailproxy.testkit.GreenMailUpstream.start()) {
            other.passwordUser(E2eFixture.PW_MAILBOX, E2eFixture.UPSTREAM_PASSWORD).deliver(
                    new jakarta.mail.internet.MimeMessage(jakarta.mail.Session.getInstance(new java.util.Properties()),
                            new java.io.ByteArrayInputStream("Subject: on the new server\r\n\r\nhi\r\n".getBytes())));
            try (LineClient c = LineClient.connect(f.imap())) {
                c.line();
                assertThat(c.imap("a", "LOGIN " + PASSTHRU + " " + PASSTHRU_PW)).last().asString().startsWith("a OK");
                c.imap("b", "SELECT INBOX");
                c.imap("z", "LOGOUT");
            }
            // the old server's connection is pooled now
            await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).until(() -> f.daemon.poolSnapshot().stream()
                    .anyMatch(p -> p.account().equals(E2eFixture.PW_MAILBOX) && p.idle() >= 1 && p.active() == 0));
            String moved = """
                    upstreams.other { imap = "imaps://127.0.0.1:%d", pop3 = "pop3s://127.0.0.1:%d",
                                      smtp = "smtps://127.0.0.1:%d", ca-file = "%s" }
                    accounts."%s".upstream = other
                    """.formatted(other.imapsPort(), other.pop3sPort(), other.smtpsPort(), other.caPem(),
                    E2eFixture.PW_MAILBOX);
            f.daemon.reload(ConfigLoader.parse(E2eFixture.config(state, f.upstream, f.idp, moved), "e2e.conf"));
            try (LineClient c = LineClient.connect(f.imap())) {
                c.line();
                assertThat(c.imap("a", "LOGIN " + PASSTHRU + " " + PASSTHRU_PW)).last().asString().startsWith("a OK");
                c.imap("b", "SELECT INBOX");
                assertThat(E2eFixture.uidsWithSubject(c, "on the new server")).hasSize(1);
                c.imap("z", "LOGOUT");
            }
        }
    }
}
