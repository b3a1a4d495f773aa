package io.mailproxy.daemon.e2e;

import static io.mailproxy.daemon.e2e.E2eFixture.ALICE;
import static io.mailproxy.daemon.e2e.E2eFixture.ALICE_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU;
import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER_PW;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.testkit.TestCertificates;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Angus Mail over the proxy's own TLS listeners (implicit IMAPS, SMTP STARTTLS, POP3 STLS), verifying the chain. */
class LocalTlsEndToEndTest {

    @TempDir
    static Path state;
    static E2eFixture f;

    @BeforeAll
    static void start() {
        TestCertificates.ServerCert cert = TestCertificates.shared().server();
        String tls = "cert-file = \"" + cert.certPem() + "\", key-file = \"" + cert.keyPem() + "\"";
        f = E2eFixture.start(state, """
                listeners += { protocol = imap, bind = "127.0.0.1", port = 0, tls { mode = implicit, %s } }
                listeners += { protocol = smtp, bind = "127.0.0.1", port = 0, tls { mode = starttls, %s } }
                listeners += { protocol = pop3, bind = "127.0.0.1", port = 0, tls { mode = starttls, %s } }
                """.formatted(tls, tls, tls));
    }

    @AfterAll
    static void stop() {
        if (f != null) {
            f.close();
        }
    }

    /** The listeners added here, after the fixture's own (imap, smtp and, when present, pop3). */
    private static InetSocketAddress added(int i) {
        int own = E2eFixture.hasPop3() ? 3 : 2;
        return f.daemon.boundAddresses().get(own + i);
    }

    private static Properties tls(String protocol) {
        Properties p = new Properties();
        p.put("mail." + protocol + ".ssl.socketFactory", TestCertificates.shared().clientSslContext().getSocketFactory());
        p.put("mail." + protocol + ".ssl.checkserveridentity", "true");
        p.put("mail." + protocol + ".timeout", "10000");
        return p;
    }

    @Test
    void imapsListener() throws Exception {
        f.oauthUser.deliver(new MimeMessage(Session.getInstance(new Properties()),
                new java.io.ByteArrayInputStream("Subject: over tls\r\n\r\nhello\r\n".getBytes())));
        Store store = Session.getInstance(tls("imaps")).getStore("imaps");
        store.connect("127.0.0.1", added(0).getPort(), ALICE, ALICE_PW);
        try {
            Folder inbox = store.getFolder("INBOX");
            inbox.open(Folder.READ_ONLY);
            assertThat(inbox.getMessageCount()).isPositive();
            assertThat(inbox.getMessage(inbox.getMessageCount()).getSubject()).isNotNull();
            inbox.close(false);
        } finally {
            store.close();
        }
    }

    @Test
    void smtpStartTlsListener() throws Exception {
        Properties p = tls("smtp");
        p.put("mail.smtp.starttls.enable", "true");
        p.put("mail.smtp.starttls.required", "true");
        p.put("mail.smtp.auth", "true");
        p.put("mail.smtp.host", "127.0.0.1");
        p.put("mail.smtp.port", String.valueOf(added(1).getPort()));
        MimeMessage m = new MimeMessage(Session.getInstance(p));
        String subject = "StartTLS " + System.nanoTime();
        m.setFrom(new InternetAddress(E2eFixture.OAUTH_MAILBOX));
        m.setRecipient(Message.RecipientType.TO, new InternetAddress("boss@fabrikam.example"));
        m.setSubject(subject);
        m.setText("sent over STARTTLS\r\n");
        Transport.send(m, ALICE, ALICE_PW);
        await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).until(() -> java.util.Arrays.stream(f.upstream.greenMail().getReceivedMessages())
                .anyMatch(x -> { try { return subject.equals(x.getSubject()); } catch (Exception e) { return false; } }));
    }

    @Test
    void pop3StlsListener() throws Exception {
        Assumptions.assumeTrue(E2eFixture.hasPop3());
        for (String[] c : new String[][] {{POPPER, POPPER_PW}, {PASSTHRU, PASSTHRU_PW}}) {
            Properties p = tls("pop3");
            p.put("mail.pop3.starttls.enable", "true");
            p.put("mail.pop3.starttls.required", "true");
            Store store = Session.getInstance(p).getStore("pop3");
            store.connect("127.0.0.1", added(2).getPort(), c[0], c[1]);
            try {
                Folder inbox = store.getFolder("INBOX");
                inbox.open(Folder.READ_ONLY);
                assertThat(inbox.getMessageCount()).isGreaterThanOrEqualTo(0);
                inbox.close(false);
            } finally {
                store.close();
            }
        }
    }
}
