package io.mailproxy.daemon.e2e;

import static io.mailproxy.daemon.e2e.E2eFixture.ALICE;
import static io.mailproxy.daemon.e2e.E2eFixture.ALICE_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.DANA;
import static io.mailproxy.daemon.e2e.E2eFixture.DANA_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU;
import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.SENDER;
import static io.mailproxy.daemon.e2e.E2eFixture.SENDER_PW;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import io.mailproxy.core.credentials.FileSecretStore;
import io.mailproxy.core.credentials.TokenService;
import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Whole IMAP, POP3 and SMTP sessions through the assembled daemon with {@code io.mailproxy} at DEBUG: no password,
 * token or secret (nor its base64, nor an XOAUTH2 or AUTH PLAIN blob holding it) appears in any log line or
 * exception text.
 */
class LogSecretsEndToEndTest {

    @TempDir
    Path state;

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String xoauth2(String user, String token) {
        return b64("user=" + user + "\u0001auth=Bearer " + token + "\u0001\u0001");
    }

    private static String smtpLine(LineClient c) throws Exception {
        String l;
        do {
            l = c.line();
        } while (l != null && l.length() > 3 && l.charAt(3) == '-');
        return l;
    }

    @Test
    void noSecretReachesTheLog() throws Exception {
        List<String> lines;
        Set<String> secrets = new LinkedHashSet<>();
        E2eFixture f;
        try (LogCapture log = new LogCapture(Level.DEBUG)) {
            f = E2eFixture.start(state);
            try {
                f.oauthUser.deliver(new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(
                        "Subject: hello\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII))));
                imapSessions(f);
                smtpSession(f);
                if (E2eFixture.hasPop3()) {
                    pop3Sessions(f);
                }
            } finally {
                f.close();
            }
            lines = log.lines();
        }
        String rotated = FileSecretStore.open(state, Map.of("MAILPROXY_MASTER_KEY", f.masterKey))
                .get(TokenService.refreshTokenName("fake", E2eFixture.DELEGATED_MAILBOX)).orElseThrow();
        assertThat(rotated).as("the refresh token was used and rotated").isNotEqualTo(f.seededRefreshToken);
        assertThat(f.tokensSeen).as("access tokens the proxy presented upstream").isNotEmpty();
        assertThat(lines).as("debug logging was on").anyMatch(l -> l.startsWith("DEBUG"));

        for (String pw : List.of(ALICE_PW, DANA_PW, SENDER_PW, POPPER_PW, PASSTHRU_PW)) {
            secrets.add(pw);
        }
        secrets.add(E2eFixture.UPSTREAM_PASSWORD);
        secrets.add(E2eFixture.CLIENT_SECRET);
        secrets.add(f.seededRefreshToken);
        secrets.add(rotated);
        secrets.addAll(f.tokensSeen);
        List<String> needles = new ArrayList<>();
        for (String s : secrets) {
            needles.add(s);
            needles.add(b64(s));
            needles.add(URLEncoder.encode(s, StandardCharsets.UTF_8));
        }
        for (String token : f.tokensSeen) {
            for (String user : List.of(E2eFixture.OAUTH_MAILBOX, E2eFixture.DELEGATED_MAILBOX)) {
                needles.add(xoauth2(user, token));
            }
        }
        for (String[] c : new String[][] {{ALICE, ALICE_PW}, {DANA, DANA_PW}, {SENDER, SENDER_PW}, {POPPER, POPPER_PW},
                {PASSTHRU, PASSTHRU_PW}}) {
            needles.add(b64("\0" + c[0] + "\0" + c[1]));
        }
        needles.add(b64("\0" + E2eFixture.PW_MAILBOX + "\0" + E2eFixture.UPSTREAM_PASSWORD));
        needles.add(b64(E2eFixture.PW_MAILBOX + "\0" + E2eFixture.PW_MAILBOX + "\0" + E2eFixture.UPSTREAM_PASSWORD));
        for (String line : lines) {
            for (String needle : needles) {
                assertThat(line).as("log line holds a secret").doesNotContain(needle);
            }
        }
    }

    private static void imapSessions(E2eFixture f) throws Exception {
        try (LineClient c = LineClient.connect(f.imap())) {
            c.line();
            assertThat(c.imap("a", "LOGIN " + ALICE + " \"" + ALICE_PW + "\"")).last().asString().startsWith("a OK");
            c.imap("b", "SELECT INBOX");
            c.fetchBody("c", 1);
            c.send("d APPEND INBOX {24}");
            c.line();
            c.sendRaw("Subject: x\r\n\r\nappended\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            c.untilTagged("d");
            c.imap("e", "LOGOUT");
        }
        try (LineClient c = LineClient.connect(f.imap())) {
            c.line();
            c.send("a AUTHENTICATE PLAIN");
            c.line();
            c.send(b64("\0" + DANA + "\0" + DANA_PW));
            assertThat(c.untilTagged("a")).last().asString().startsWith("a OK");
            c.imap("b", "EXAMINE INBOX");
            c.imap("c", "LOGOUT");
        }
        try (LineClient c = LineClient.connect(f.imap())) {
            c.line();
            c.send("a LOGIN " + ALICE + " {" + SENDER_PW.length() + "+}");
            c.send(SENDER_PW);
            assertThat(c.untilTagged("a")).last().asString().startsWith("a NO [AUTHENTICATIONFAILED]");
        }
    }

    private static void smtpSession(E2eFixture f) throws Exception {
        try (LineClient c = LineClient.connect(f.smtp())) {
            smtpLine(c);
            c.send("EHLO legacy.example");
            smtpLine(c);
            c.send("AUTH LOGIN");
            smtpLine(c);
            c.send(b64(SENDER));
            smtpLine(c);
            c.send(b64(SENDER_PW));
            assertThat(smtpLine(c)).startsWith("235 ");
            c.send("MAIL FROM:<scanner@legacy.example>");
            smtpLine(c);
            c.send("RCPT TO:<boss@fabrikam.example>");
            smtpLine(c);
            c.send("DATA");
            smtpLine(c);
            c.sendRaw("From: scanner@legacy.example\r\nSubject: s\r\n\r\nscan\r\n.\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(smtpLine(c)).startsWith("250 ");
            c.send("QUIT");
            smtpLine(c);
        }
        try (LineClient c = LineClient.connect(f.smtp())) {
            smtpLine(c);
            c.send("EHLO legacy.example");
            smtpLine(c);
            c.send("AUTH PLAIN " + b64("\0" + ALICE + "\0" + ALICE_PW));
            smtpLine(c);
            c.send("QUIT");
            smtpLine(c);
        }
    }

    private static void pop3Sessions(E2eFixture f) throws Exception {
        for (String[] client : new String[][] {{POPPER, POPPER_PW}, {PASSTHRU, PASSTHRU_PW}}) {
            try (LineClient c = LineClient.connect(f.pop3())) {
                c.line();
                c.send("USER " + client[0]);
                c.line();
                c.send("PASS " + client[1]);
                assertThat(c.line()).startsWith("+OK");
                c.send("STAT");
                c.line();
                c.send("QUIT");
                c.line();
            }
            try (LineClient c = LineClient.connect(f.pop3())) {
                c.line();
                c.send("AUTH PLAIN " + b64("\0" + client[0] + "\0" + client[1]));
                c.line();
                c.send("QUIT");
                c.line();
            }
        }
    }
}
