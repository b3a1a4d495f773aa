package io.mailproxy.daemon.e2e;

import static io.mailproxy.daemon.e2e.E2eFixture.ALICE;
import static io.mailproxy.daemon.e2e.E2eFixture.ALICE_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.SENDER;
import static io.mailproxy.daemon.e2e.E2eFixture.SENDER_PW;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SMTP submission through the assembled daemon to GreenMail SMTPS, logged in upstream with XOAUTH2. */
class SmtpEndToEndTest {

    @TempDir
    static Path state;
    static E2eFixture f;

    @BeforeAll
    static void start() {
        f = E2eFixture.start(state);
    }

    @AfterAll
    static void stop() {
        if (f != null) {
            f.close();
        }
    }

    private static String plain(String user, String password) {
        return Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
    }

    /** The message GreenMail received with this Subject, written out as it stored it. */
    private static Optional<String> delivered(String subject) throws Exception {
        for (MimeMessage m : f.upstream.greenMail().getReceivedMessages()) {
            if (subject.equals(m.getSubject())) {
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                m.writeTo(out);
                return Optional.of(out.toString(StandardCharsets.UTF_8));
            }
        }
        return Optional.empty();
    }

    private static String line(LineClient c) throws Exception {
        String l;
        do {
            l = c.line();
        } while (l != null && l.length() > 3 && l.charAt(3) == '-');
        return l;
    }

    @Test
    void rawSessionDeliversTheExactBytes() throws Exception {
        String subject = "Scan " + System.nanoTime();
        String message = "X-E2E: first\r\nFrom: Reports <reports@contoso.com>\r\nTo: boss@fabrikam.example\r\n"
                + "Subject: " + subject + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                + "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n.leading dot\r\n\r\n  trailing spaces  \r\nlast\r\n";
        try (LineClient c = LineClient.connect(f.smtp())) {
            assertThat(line(c)).startsWith("220 ");
            c.send("EHLO legacy.example");
            assertThat(line(c)).startsWith("250 ");
            c.send("AUTH PLAIN " + plain(ALICE, ALICE_PW));
            assertThat(line(c)).startsWith("235 ");
            c.send("MAIL FROM:<reports@contoso.com>");
            assertThat(line(c)).startsWith("250 ");
            c.send("RCPT TO:<boss@fabrikam.example>");
            assertThat(line(c)).startsWith("250 ");
            c.send("DATA");
            assertThat(line(c)).startsWith("354 ");
            c.sendRaw((message.replace("\r\n.", "\r\n..") + ".\r\n").getBytes(StandardCharsets.UTF_8));
            assertThat(line(c)).startsWith("250 ");
            c.send("QUIT");
            assertThat(line(c)).startsWith("221 ");
        }
        await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).until(() -> delivered(subject).isPresent());
        String got = delivered(subject).orElseThrow();
        // GreenMail prepends Return-Path and Received and drops the last CRLF
        assertThat(got.substring(got.indexOf("X-E2E: first"))).isEqualTo(message.substring(0, message.length() - 2));
        assertThat(got).contains("Return-Path: <reports@contoso.com>");
    }

    @Test
    void twoMessagesInARowShareOneUpstreamLoginAndALargeOneArrivesWhole() throws Exception {
        int before = f.upstreamOauthLogins();
        StringBuilder body = new StringBuilder();
        for (int i = 0; body.length() < 2_000_000; i++) {
            body.append(i % 40 == 0 ? "." : "").append("line ").append(i).append(" of a large attachment\r\n");
        }
        String[] subjects = {"First " + System.nanoTime(), "Second " + System.nanoTime()};
        String[] messages = new String[2];
        for (int n = 0; n < 2; n++) {
            messages[n] = "X-E2E: first\r\nFrom: reports@contoso.com\r\nSubject: " + subjects[n] + "\r\n\r\n"
                    + (n == 1 ? body : "short\r\n");
            try (LineClient c = LineClient.connect(f.smtp())) {
                line(c);
                c.send("EHLO legacy.example");
                line(c);
                c.send("AUTH PLAIN " + plain(ALICE, ALICE_PW));
                assertThat(line(c)).startsWith("235 ");
                c.send("MAIL FROM:<reports@contoso.com>");
                assertThat(line(c)).startsWith("250 ");
                c.send("RCPT TO:<boss@fabrikam.example>");
                assertThat(line(c)).startsWith("250 ");
                c.send("DATA");
                assertThat(line(c)).startsWith("354 ");
                c.sendRaw((messages[n].replace("\r\n.", "\r\n..") + ".\r\n").getBytes(StandardCharsets.UTF_8));
                assertThat(line(c)).startsWith("250 ");
                c.send("QUIT");
                assertThat(line(c)).startsWith("221 ");
            }
        }
        for (int n = 0; n < 2; n++) {
            String subject = subjects[n];
            await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).until(() -> delivered(subject).isPresent());
            String got = delivered(subject).orElseThrow();
            assertThat(got.substring(got.indexOf("X-E2E: first"))).isEqualTo(messages[n].substring(0, messages[n].length() - 2));
        }
        // one pooled connection served both (reset with RSET in between); an earlier test may have opened it already
        assertThat(f.upstreamOauthLogins() - before).as("upstream SMTP logins for two transactions").isLessThanOrEqualTo(1);
        await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(f.daemon.poolSnapshot())
                .filteredOn(p -> p.account().equals(E2eFixture.OAUTH_MAILBOX) && p.protocol() == io.mailproxy.core.Protocol.SMTP)
                .singleElement().satisfies(p -> {
                    assertThat(p.active()).isZero();
                    assertThat(p.idle()).isEqualTo(1);
                }));
    }

    @Test
    void angusWithSenderRewrite() throws Exception {
        Properties p = new Properties();
        p.put("mail.smtp.host", f.smtp().getHostString());
        p.put("mail.smtp.port", String.valueOf(f.smtp().getPort()));
        p.put("mail.smtp.auth", "true");
        p.put("mail.smtp.from", "scanner@legacy.example");
        p.put("mail.smtp.timeout", "10000");
        Session session = Session.getInstance(p);
        MimeMessage m = new MimeMessage(session);
        String subject = "Rewritten " + System.nanoTime();
        m.setFrom(new InternetAddress("scanner@legacy.example", "Scanner"));
        m.setRecipient(Message.RecipientType.TO, new InternetAddress("boss@fabrikam.example"));
        m.setSubject(subject);
        m.setText("scan attached\r\n");
        Transport.send(m, SENDER, SENDER_PW);
        await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).until(() -> delivered(subject).isPresent());
        MimeMessage got = Arrays.stream(f.upstream.greenMail().getReceivedMessages())
                .filter(x -> { try { return subject.equals(x.getSubject()); } catch (Exception e) { return false; } })
                .findFirst().orElseThrow();
        assertThat(got.getHeader("From", ",")).isEqualTo("Scanner <" + E2eFixture.REWRITE_FROM + ">");
        assertThat(got.getHeader("Reply-To", ",")).isEqualTo("Scanner <scanner@legacy.example>");
        assertThat(got.getHeader("Return-Path", ",")).isEqualTo("<" + E2eFixture.REWRITE_FROM + ">");
    }

    @Test
    void wrongPasswordIs535() throws Exception {
        try (LineClient c = LineClient.connect(f.smtp())) {
            line(c);
            c.send("EHLO legacy.example");
            line(c);
            c.send("AUTH PLAIN " + plain(ALICE, "not-her-password"));
            assertThat(line(c)).startsWith("535 5.7.8 ");
        }
        Properties p = new Properties();
        p.put("mail.smtp.host", f.smtp().getHostString());
        p.put("mail.smtp.port", String.valueOf(f.smtp().getPort()));
        p.put("mail.smtp.auth", "true");
        MimeMessage m = new MimeMessage(Session.getInstance(p));
        m.setFrom("a@b.example");
        m.setRecipient(Message.RecipientType.TO, new InternetAddress("boss@fabrikam.example"));
        m.setText("x");
        assertThatThrownBy(() -> Transport.send(m, ALICE, "wrong")).isInstanceOf(AuthenticationFailedException.class);
    }
}
