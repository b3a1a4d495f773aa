package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.icegreen.greenmail.junit5.GreenMailExtension;
import com.icegreen.greenmail.util.ServerSetup;
import com.icegreen.greenmail.util.ServerSetupTest;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.pop3.testing.Pop3Client;
import io.mailproxy.pop3.testing.ProxyServer;
import io.mailproxy.pop3.testing.RawImap;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** source = pop3 against GreenMail's POP3, and Python's poplib as a real client in both modes. */
class PassThroughGreenMailTest {

    private static final String USER = "acct@example.com";
    private static final String PASSWORD = "pw";

    @RegisterExtension
    static final GreenMailExtension greenMail = new GreenMailExtension(
            ServerSetup.dynamicPort(new ServerSetup[] {ServerSetupTest.POP3, ServerSetupTest.IMAP}));

    private ProxyServer proxy;
    private RawImap direct;

    @BeforeEach
    void start() throws Exception {
        greenMail.setUser(USER, USER, PASSWORD);
        proxy = new ProxyServer(greenMail.getImap().getPort(), USER, PASSWORD);
        proxy.usePop3Upstream(greenMail.getPop3().getPort(), USER, PASSWORD);
        direct = new RawImap(greenMail.getImap().getPort(), USER, PASSWORD);
    }

    @AfterEach
    void stop() throws Exception {
        direct.close();
        proxy.close();
    }

    @Test
    void relaysRetrDeleAndQuitToTheUpstreamPop3() throws Exception {
        direct.append("INBOX", Pop3OverImapTest.message("one", 2000, true));
        direct.append("INBOX", Pop3OverImapTest.message("two", 300_000, true));
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            c.line();
            c.command("USER alice");
            assertThat(c.command("PASS secret")).isEqualTo("+OK Logged in, maildrop ready");
            assertThat(c.command("STAT")).startsWith("+OK 2 ");
            assertThat(c.command("LIST")).startsWith("+OK");
            assertThat(c.bodyText()).matches("1 \\d+\r\n2 \\d+\r\n");
            assertThat(c.command("RETR 2")).startsWith("+OK");
            String two = new String(c.body(), StandardCharsets.US_ASCII);
            assertThat(two).contains("Subject: two").contains("\r\n.dot-led line 7\r\n").endsWith("0123456789\r\n");
            assertThat(c.command("DELE 1")).startsWith("+OK");
            assertThat(c.command("QUIT")).startsWith("+OK");
            assertThat(c.closedByServer()).isTrue();
        }
        direct.command("SELECT INBOX");
        assertThat(direct.command("SEARCH ALL").get(0).strip()).isEqualTo("* SEARCH 1");
    }

    @Test
    void dropBeforeQuitDeletesNothingUpstream() throws Exception {
        direct.append("INBOX", Pop3OverImapTest.message("one", 2000, true));
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            c.line();
            c.command("USER alice");
            c.command("PASS secret");
            assertThat(c.command("DELE 1")).startsWith("+OK");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> {
            direct.command("NOOP");
            return greenMail.getReceivedMessages().length == 1;
        });
        assertThat(proxy.upstreamCommands).doesNotContain("QUIT");
    }

    static final String POPLIB = String.join("\n",
            "import poplib, sys",
            "p = poplib.POP3('127.0.0.1', int(sys.argv[1]), timeout=15)",
            "print(p.getwelcome().decode())",
            "print(sorted(p.capa().keys()))",
            "p.user('alice'); print(p.pass_('secret').decode().split(' ')[0])",
            "n, size = p.stat(); print(n)",
            "resp, lines, octets = p.retr(1); print(len(lines), b'\\r\\n'.join(lines).count(b'.dot-led'))",
            "resp, lines, octets = p.top(1, 2); print(lines[-2:])",
            "print([l.decode().split(' ')[0] for l in p.uidl()[1]])",
            "print(p.dele(1).decode().split(' ')[0])",
            "print(p.quit().decode().split(' ')[0])");

    /** Lines and dot-led lines of the test message, as poplib's retr() reports them. */
    private static String expectedRetr() {
        String m = new String(Pop3OverImapTest.message("one", 5000, true), StandardCharsets.US_ASCII);
        int lines = m.split("\r\n").length;
        int dotLed = m.split("\\.dot-led", -1).length - 1;
        return lines + " " + dotLed;
    }

    private List<String> poplib(Path dir) throws IOException, InterruptedException {
        // Python's poplib is a real client nobody here wrote; the interop profile runs it for sure, here it is a bonus
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")),
                "no /usr/bin/python3");
        Path script = dir.resolve("client.py");
        Files.writeString(script, POPLIB);
        Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), Integer.toString(proxy.port()))
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        return out.lines().toList();
    }

    @Test
    void pythonPoplibThroughPassThrough(@TempDir Path dir) throws Exception {
        direct.append("INBOX", Pop3OverImapTest.message("one", 5000, true));
        assertThat(poplib(dir)).containsExactly(
                "+OK mailproxy POP3 ready",
                "['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']",
                "+OK", "1", expectedRetr(), "[b'line 1 the quick brown fox jumps over the lazy dog 0123456789', "
                        + "b'line 2 the quick brown fox jumps over the lazy dog 0123456789']",
                "['1']", "+OK", "+OK");
        assertThat(greenMail.getReceivedMessages()).isEmpty();
    }

    @Test
    void pythonPoplibThroughPop3OverImap(@TempDir Path dir) throws Exception {
        proxy.core.client("alice", "secret", new Pop3Policy(Pop3Policy.Source.IMAP, "INBOX",
                false, io.mailproxy.core.config.ClientConfig.OnDelete.EXPUNGE));
        direct.append("INBOX", Pop3OverImapTest.message("one", 5000, true));
        assertThat(poplib(dir)).containsExactly(
                "+OK mailproxy POP3 ready",
                "['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']",
                "+OK", "1", expectedRetr(), "[b'line 1 the quick brown fox jumps over the lazy dog 0123456789', "
                        + "b'line 2 the quick brown fox jumps over the lazy dog 0123456789']",
                "['1']", "+OK", "+OK");
        direct.command("SELECT INBOX");
        assertThat(direct.command("SEARCH ALL").get(0).strip()).isEqualTo("* SEARCH");
    }
}
