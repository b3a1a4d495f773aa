package io.mailproxy.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Properties;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

/** The scripted upstream seen from plain JDK sockets and from a real client (Angus Mail). */
class ScriptedUpstreamTest {

    private static final TestCertificates CERTS = TestCertificates.shared();
    private static final String MAILBOX = "reports@contoso.com";
    private static final String TOKEN = "token-123";

    /** A line-oriented client over a socket that can be upgraded to TLS (hostname verified). */
    static final class Client implements AutoCloseable {
        Socket socket;
        BufferedReader in;
        OutputStream out;

        Client(int port, boolean tls) throws IOException {
            socket = new Socket("127.0.0.1", port);
            if (tls) {
                upgrade();
            } else {
                streams();
            }
        }

        void upgrade() throws IOException {
            SSLSocket ssl = (SSLSocket) CERTS.clientSslContext().getSocketFactory()
                    .createSocket(socket, "127.0.0.1", socket.getPort(), true);
            SSLParameters p = ssl.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS");
            ssl.setSSLParameters(p);
            ssl.startHandshake();
            socket = ssl;
            streams();
        }

        private void streams() throws IOException {
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
            out = socket.getOutputStream();
        }

        String line() throws IOException {
            return in.readLine();
        }

        void send(String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    static String xoauth2(String user, String token) {
        return Base64.getEncoder().encodeToString(("user=" + user + "\u0001auth=Bearer " + token + "\u0001\u0001")
                .getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void plaintextScriptAnswersByVerbAndRecordsTheClient() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.builder(Dialect.SMTP).greeting("220 test ESMTP")
                .on("ehlo", ex -> ex.reply("250-test", "250 PIPELINING")).start();
             Client c = new Client(up.port(), false)) {
            assertThat(c.line()).isEqualTo("220 test ESMTP");
            c.send("EHLO client");
            assertThat(c.line()).isEqualTo("250-test");
            assertThat(c.line()).isEqualTo("250 PIPELINING");
            c.send("VRFY x");
            assertThat(c.line()).isEqualTo("500 5.3.3 Unrecognized command");
            assertThat(up.received()).containsExactly("EHLO client", "VRFY x");
            assertThat(up.received(1)).containsExactly("EHLO client", "VRFY x");
            assertThat(up.connections()).isEqualTo(1);
        }
    }

    @Test
    void office365SmtpStartTlsThenXoauth2() throws Exception {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN).start();
             Client c = new Client(up.port(), false)) {
            assertThat(c.line()).isEqualTo(Office365.SMTP_GREETING);
            c.send("EHLO [127.0.0.1]");
            String ehlo;
            StringBuilder all = new StringBuilder();
            do {
                ehlo = c.line();
                all.append(ehlo).append('\n');
            } while (ehlo.startsWith("250-"));
            assertThat(all.toString()).contains("250-STARTTLS").doesNotContain("AUTH");
            c.send("AUTH XOAUTH2 " + xoauth2(MAILBOX, TOKEN));
            assertThat(c.line()).isEqualTo("504 5.7.4 Unrecognized authentication type");
            c.send("STARTTLS");
            assertThat(c.line()).isEqualTo("220 2.0.0 SMTP server ready");
            c.upgrade();
            c.send("EHLO [127.0.0.1]");
            all.setLength(0);
            do {
                ehlo = c.line();
                all.append(ehlo).append('\n');
            } while (ehlo.startsWith("250-"));
            assertThat(all.toString()).contains("250-AUTH LOGIN XOAUTH2\n", "250-SIZE 157286400\n", "250 SMTPUTF8\n")
                    .doesNotContain("STARTTLS");
            c.send("AUTH XOAUTH2 " + xoauth2(MAILBOX, "bad"));
            assertThat(c.line()).isEqualTo(Office365.SMTP_AUTH_FAILED);
            c.send("AUTH XOAUTH2 " + xoauth2(MAILBOX, TOKEN));
            assertThat(c.line()).isEqualTo("235 2.7.0 Authentication successful");
        }
    }

    @Test
    void injectionFollowsTheStartTlsReplyInPlaintext() throws Exception {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).injectAfterStartTls("250 injected\r\n").start();
             Client c = new Client(up.port(), false)) {
            c.line();
            c.send("STARTTLS");
            assertThat(c.line()).isEqualTo("220 2.0.0 SMTP server ready");
            assertThat(c.line()).isEqualTo("250 injected");
        }
    }

    @Test
    void office365ImapQuirksAndTokenExpiryBye() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).notConnectedAfterLogin().start();
             Client c = new Client(up.port(), true)) {
            assertThat(c.line()).isEqualTo(Office365.IMAP_GREETING);
            c.send("a AUTHENTICATE XOAUTH2");
            assertThat(c.line()).isEqualTo("+ ");
            c.send(xoauth2(MAILBOX, TOKEN));
            assertThat(c.line()).isEqualTo("a OK AUTHENTICATE completed.");
            c.send("b NOOP");
            assertThat(c.line()).isEqualTo("b BAD User is authenticated but not connected.");
            up.sendToAll(Office365.TOKEN_EXPIRED_BYE);
            assertThat(c.line()).isEqualTo(Office365.TOKEN_EXPIRED_BYE);
            assertThat(up.received()).containsExactly("a AUTHENTICATE XOAUTH2", xoauth2(MAILBOX, TOKEN), "b NOOP");
        }
    }

    @Test
    void office365Pop3WithContinuation() throws Exception {
        try (ScriptedUpstream up = Office365.pop3(CERTS.server()).account(MAILBOX, TOKEN).start();
             Client c = new Client(up.port(), true)) {
            assertThat(c.line()).isEqualTo(Office365.POP3_GREETING);
            c.send("AUTH XOAUTH2");
            assertThat(c.line()).isEqualTo("+ ");
            c.send(xoauth2(MAILBOX, "bad"));
            assertThat(c.line()).isEqualTo(Office365.POP3_AUTH_FAILED);
            c.send("AUTH XOAUTH2");
            c.line();
            c.send(xoauth2(MAILBOX, TOKEN));
            assertThat(c.line()).isEqualTo("+OK User successfully authenticated.");
        }
    }

    @Test
    void angusMailSendsThroughTheOffice365SmtpScript() throws Exception {
        Office365 script = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN);
        try (ScriptedUpstream up = script.start()) {
            Properties p = new Properties();
            p.put("mail.smtp.host", "127.0.0.1");
            p.put("mail.smtp.port", String.valueOf(up.port()));
            p.put("mail.smtp.starttls.enable", "true");
            p.put("mail.smtp.starttls.required", "true");
            p.put("mail.smtp.ssl.socketFactory", CERTS.clientSslContext().getSocketFactory());
            p.put("mail.smtp.ssl.checkserveridentity", "true");
            p.put("mail.smtp.auth", "true");
            p.put("mail.smtp.auth.mechanisms", "XOAUTH2");
            Session session = Session.getInstance(p);
            MimeMessage m = new MimeMessage(session);
            m.setFrom(new InternetAddress(MAILBOX));
            m.setRecipient(Message.RecipientType.TO, new InternetAddress("someone@example.com"));
            m.setSubject("hello");
            m.setText(".leading dot\r\nbody\r\n");
            try (Transport t = session.getTransport("smtp")) {
                t.connect(MAILBOX, TOKEN);
                t.sendMessage(m, m.getAllRecipients());
            }
            assertThat(script.messages()).hasSize(1);
            assertThat(script.messages().get(0)).contains("Subject: hello\r\n").contains("\r\n.leading dot\r\nbody\r\n");
            assertThat(up.received()).contains("STARTTLS", "AUTH XOAUTH2 " + xoauth2(MAILBOX, TOKEN), "DATA", ".");
        }
    }

    @Test
    void startTlsScriptWithoutCertificateIsRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ScriptedUpstream.builder(Dialect.IMAP)
                .security(Security.IMPLICIT_TLS, null).start()).isInstanceOf(IllegalStateException.class);
    }
}
