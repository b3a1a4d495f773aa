package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The harness itself, straight against Dovecot (no proxy): what the other checks rely on really holds — exact
 * storage, XOAUTH2 through the introspection URL, STARTTLS required before AUTH on submission, relay to the sink.
 */
@ExtendWith(Interop.Extension.class)
class DovecotHarnessIT {

    static final String USER = "direct@" + Interop.DOMAIN;

    Interop env;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        env.clear(USER);
    }

    @Test
    void appendedMessagesReadBackByteForByte() throws IOException {
        byte[] small = Messages.message(USER, USER, "1 KB", 1024, 1);
        byte[] big = Messages.message(USER, USER, "100 KB", 100 * 1024, 2);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            long u1 = m.append("INBOX", small);
            long u2 = m.append("INBOX", big, "\\Seen");
            List<UpstreamMailbox.Stored> all = m.fetchAll("INBOX");
            assertThat(all).extracting(UpstreamMailbox.Stored::uid).containsExactly(u1, u2);
            assertThat(all.get(0).bytes()).isEqualTo(small);
            assertThat(all.get(1).bytes()).isEqualTo(big);
            assertThat(all.get(1).flags()).contains("\\Seen");
        }
    }

    @Test
    void xoauth2TokensAreCheckedByTheIntrospectionUrl() throws IOException {
        String good = env.identity.mint(USER);
        String other = env.identity.mint("someone-else@" + Interop.DOMAIN);
        assertThat(imapsXoauth2(USER, good)).startsWith("a OK");
        assertThat(imapsXoauth2(USER, other)).startsWith("a NO").contains("AUTHENTICATIONFAILED");
        assertThat(imapsXoauth2(USER, "not-a-token")).startsWith("a NO").contains("AUTHENTICATIONFAILED");
    }

    @Test
    void submissionRefusesAuthBeforeStarttls() throws IOException {
        try (Socket s = new Socket(DovecotServer.HOST, env.dovecot.submissionPort())) {
            s.setSoTimeout(10_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = s.getOutputStream();
            assertThat(in.readLine()).startsWith("220");
            out.write("EHLO client.test\r\n".getBytes(StandardCharsets.US_ASCII));
            String line;
            StringBuilder ehlo = new StringBuilder();
            do {
                line = in.readLine();
                ehlo.append(line).append('\n');
            } while (line.startsWith("250-"));
            assertThat(ehlo.toString()).contains("STARTTLS");
            String plain = Base64.getEncoder().encodeToString(("\0" + USER + "\0" + env.dovecot.password(USER))
                    .getBytes(StandardCharsets.UTF_8));
            out.write(("AUTH PLAIN " + plain + "\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(in.readLine()).matches("5\\d\\d .*");
        }
    }

    @Test
    void submissionRelaysToTheSinkWithOneReceivedHeaderPrepended() throws IOException {
        byte[] msg = Messages.small(USER, "someone@elsewhere.test", "relay check " + System.nanoTime());
        Path file = Files.write(env.scratch.resolve("direct-relay.eml"), msg);
        Proc.Result r = Proc.run(Duration.ofSeconds(30), List.of("curl", "-sS",
                "smtp://" + DovecotServer.HOST + ":" + env.dovecot.submissionPort(), "--ssl-reqd",
                "--cacert", env.dovecot.caFile().toString(), "--user", USER + ":" + env.dovecot.password(USER),
                "--mail-from", USER, "--mail-rcpt", "someone@elsewhere.test", "--upload-file", file.toString()));
        assertThat(r.exit()).as(r.describe()).isZero();
        SmtpSink.Received got = env.sink.messagesTo("someone@elsewhere.test").stream()
                .filter(m -> Messages.endsWith(m.data(), msg)).findFirst().orElseThrow();
        Exact.assertRelayed(got.data(), msg);
        assertThat(got.mailFrom()).isEqualTo(USER);
    }

    @Test
    void submissionPassesTheRelaysRecipientRejectionBack() throws IOException {
        byte[] msg = Messages.small(USER, "reject-me@elsewhere.test", "rejected");
        Path file = Files.write(env.scratch.resolve("direct-reject.eml"), msg);
        Proc.Result r = Proc.run(Duration.ofSeconds(30), List.of("curl", "-sS",
                "smtp://" + DovecotServer.HOST + ":" + env.dovecot.submissionPort(), "--ssl-reqd",
                "--cacert", env.dovecot.caFile().toString(), "--user", USER + ":" + env.dovecot.password(USER),
                "--mail-from", USER, "--mail-rcpt", "reject-me@elsewhere.test", "--upload-file", file.toString()));
        assertThat(r.exit()).as(r.describe()).isNotZero();
        assertThat(r.stderr()).contains("550");
    }

    private String imapsXoauth2(String user, String token) throws IOException {
        try (SSLSocket s = (SSLSocket) UpstreamMailbox.sslContext(env.dovecot).getSocketFactory()
                .createSocket(DovecotServer.HOST, env.dovecot.imapsPort())) {
            s.setSoTimeout(10_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = s.getOutputStream();
            assertThat(in.readLine()).startsWith("* OK");
            String ir = Base64.getEncoder().encodeToString(("user=" + user + "\u0001auth=Bearer " + token
                    + "\u0001\u0001").getBytes(StandardCharsets.UTF_8));
            out.write(("a AUTHENTICATE XOAUTH2 " + ir + "\r\n").getBytes(StandardCharsets.US_ASCII));
            String line;
            while (true) {
                line = in.readLine();
                if (line.startsWith("+ ")) {
                    out.write("\r\n".getBytes(StandardCharsets.US_ASCII)); // end the XOAUTH2 error challenge
                } else if (line.startsWith("a ")) {
                    return line;
                }
            }
        }
    }
}
