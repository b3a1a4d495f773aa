package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** curl (imap://, pop3://, smtp://) through the proxy, plaintext on the client side, Dovecot behind it. */
@ExtendWith(Interop.Extension.class)
class CurlIT {

    static final String USER = "curl@" + Interop.DOMAIN;
    static final String CLIENT = Proxy.client(USER);

    Interop env;
    Proxy proxy;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        env.clear(USER);
    }

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {1024, 100 * 1024})
    void imapFetchIsByteIdentical(int size) throws IOException {
        byte[] msg = Messages.message(USER, USER, "curl imap " + size, size, size);
        long uid;
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", Messages.message(USER, USER, "other", 2048, 7));
            uid = m.append("INBOX", msg);
        }
        Proc.Result r = curl(proxy.imapUrl(CLIENT) + "/INBOX;UID=" + uid);
        assertThat(r.exit()).as(r.describe()).isZero();
        Exact.assertSameBytes("fetched bytes", r.stdout(), msg);
    }

    @Test
    void imapFetchOf10MegabytesIsByteIdentical() throws IOException {
        byte[] msg = Messages.message(USER, USER, "curl imap 10 MB", 10 * 1024 * 1024, 10);
        long uid;
        try (UpstreamMailbox m = env.mailbox(USER)) {
            uid = m.append("INBOX", msg);
        }
        Proc.Result r = curl(proxy.imapUrl(CLIENT) + "/INBOX;UID=" + uid);
        assertThat(r.exit()).as(r.describe()).isZero();
        Exact.assertSameBytes("fetched bytes", r.stdout(), msg);
    }

    @Test
    void imapListShowsTheUpstreamFolders() throws IOException {
        Proc.Result r = curl(proxy.imapUrl(CLIENT) + "/");
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(r.out()).contains("INBOX").contains("Trash").contains("Archive");
    }

    @Test
    void imapWrongPasswordIsRefused() throws IOException {
        Proc.Result r = curl("imap://" + CLIENT + ":wrong@" + Proxy.HOST + ":" + proxy.imapPort() + "/INBOX;UID=1",
                "-v");
        assertThat(r.exit()).as(r.describe()).isEqualTo(67); // CURLE_LOGIN_DENIED
        assertThat(r.stderr()).as(r.describe()).containsPattern("< [A-Z0-9]+ NO \\[AUTHENTICATIONFAILED\\]");
    }

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {1024, 100 * 1024})
    void pop3RetrIsByteIdentical(int size) throws IOException {
        byte[] first = Messages.message(USER, USER, "first", 3000, 3);
        byte[] msg = Messages.message(USER, USER, "curl pop3 " + size, size, size + 1);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", first);
            m.append("INBOX", msg);
        }
        Proc.Result r = curl(proxy.pop3Url(CLIENT) + "/2");
        assertThat(r.exit()).as(r.describe()).isZero();
        Exact.assertSameBytes("RETR 2, dot-unstuffed by curl", r.stdout(), msg);
        Proc.Result list = curl(proxy.pop3Url(CLIENT) + "/");
        assertThat(list.exit()).as(list.describe()).isZero();
        assertThat(list.out()).isEqualTo("1 " + first.length + "\r\n2 " + msg.length + "\r\n");
    }

    @Test
    void pop3RetrOf10MegabytesIsByteIdentical() throws IOException {
        byte[] msg = Messages.message(USER, USER, "curl pop3 10 MB", 10 * 1024 * 1024, 11);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", msg);
        }
        Proc.Result r = curl(proxy.pop3Url(CLIENT) + "/1");
        assertThat(r.exit()).as(r.describe()).isZero();
        Exact.assertSameBytes("fetched bytes", r.stdout(), msg);
    }

    @Test
    void pop3WrongPasswordIsRefused() throws IOException {
        Proc.Result r = curl("pop3://" + CLIENT + ":wrong@" + Proxy.HOST + ":" + proxy.pop3Port() + "/", "-v");
        assertThat(r.exit()).as(r.describe()).isEqualTo(67);
        assertThat(r.stderr()).as(r.describe()).contains("< -ERR [AUTH]");
    }

    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(ints = {1024, 100 * 1024, 10 * 1024 * 1024})
    void smtpSendArrivesByteIdenticalAfterTheReceivedHeader(int size) throws IOException {
        String rcpt = "curl-" + size + "@elsewhere.test";
        byte[] msg = Messages.message(USER, rcpt, "curl smtp " + size, size, size + 2);
        Proc.Result r = curlSmtp(msg, rcpt);
        assertThat(r.exit()).as(r.describe()).isZero();
        List<SmtpSink.Received> got = env.sink.messagesTo(rcpt);
        assertThat(got).hasSize(1);
        assertThat(got.get(0).mailFrom()).isEqualTo(USER);
        Exact.assertRelayed(got.get(0).data(), msg);
    }

    @Test
    void smtpRecipientTheUpstreamRejectsIsRejectedToTheClient() throws IOException {
        byte[] msg = Messages.small(USER, "reject-curl@elsewhere.test", "curl rejected");
        Proc.Result r = curlSmtp(msg, "reject-curl@elsewhere.test");
        assertThat(r.exit()).as(r.describe()).isEqualTo(55); // CURLE_SEND_ERROR: RCPT failed
        assertThat(r.stderr()).contains("550");
        assertThat(env.sink.messagesTo("reject-curl@elsewhere.test")).isEmpty();
    }

    @Test
    void smtpWrongPasswordIsRefused() throws IOException {
        Path file = Files.write(env.scratch.resolve("curl-wrong.eml"), Messages.small(USER, "x@elsewhere.test", "x"));
        Proc.Result r = curl(proxy.smtpUrl(), "-v", "--user", CLIENT + ":wrong", "--mail-from", USER,
                "--mail-rcpt", "x@elsewhere.test", "--upload-file", file.toString());
        assertThat(r.exit()).as(r.describe()).isEqualTo(67);
        assertThat(r.stderr()).as(r.describe()).contains("< 535 5.7.8");
    }

    private Proc.Result curlSmtp(byte[] msg, String rcpt) throws IOException {
        Path file = Files.write(env.scratch.resolve("curl-" + System.nanoTime() + ".eml"), msg);
        return curl(proxy.smtpUrl(), "--user", CLIENT + ":" + Proxy.secret(CLIENT), "--mail-from", USER,
                "--mail-rcpt", rcpt, "--upload-file", file.toString());
    }

    static Proc.Result curl(String url, String... more) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--max-time", "90", url));
        cmd.addAll(List.of(more));
        return Proc.run(Duration.ofSeconds(100), cmd);
    }
}
