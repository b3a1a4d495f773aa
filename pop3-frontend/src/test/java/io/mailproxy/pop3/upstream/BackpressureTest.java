package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.pop3.testing.Pop3Client;
import io.mailproxy.pop3.testing.ProxyServer;
import io.mailproxy.pop3.testing.ScriptedImapServer;
import io.mailproxy.testkit.core.FakeCore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * DESIGN rule 2: a client that stops reading stops the upstream. The upstreams here write as fast as loopback
 * allows; without backpressure the proxy would read all of a 32 MB body at once.
 */
class BackpressureTest {

    private static final int BODY = 32 * 1000 * 1000;
    private static final int LINE = 1000;

    /** The body: lines of 998 'x' and CRLF (BODY is a multiple of LINE, so it ends in CRLF). */
    private static byte[] body() {
        byte[] b = new byte[BODY];
        Arrays.fill(b, (byte) 'x');
        for (int i = LINE - 2; i < BODY; i += LINE) {
            b[i] = '\r';
            b[i + 1] = '\n';
        }
        return b;
    }

    private static void assertBounded(ProxyServer proxy, Pop3Client c) throws Exception {
        await().atMost(Duration.ofSeconds(10)).until(() -> proxy.upstreamBytes.get() > 1024 * 1024);
        await().during(Duration.ofMillis(800)).atMost(Duration.ofSeconds(5))
                .until(() -> proxy.upstreamBytes.get() < 12 * 1024 * 1024);
        assertThat(c.line()).startsWith("+OK");
        assertThat(c.body()).hasSize(BODY);
    }

    @Test
    void passThroughReadsUpstreamOnlyAsFastAsTheClientReads() throws Exception {
        byte[] body = body();
        try (ServerSocket pop3 = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> {
                try (Socket s = pop3.accept()) {
                    BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                    OutputStream out = s.getOutputStream();
                    out.write("+OK fast POP3\r\n".getBytes(StandardCharsets.US_ASCII));
                    String line;
                    while ((line = in.readLine()) != null) {
                        if (line.startsWith("RETR")) {
                            out.write("+OK\r\n".getBytes(StandardCharsets.US_ASCII));
                            out.write(body);
                            out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
                        } else {
                            out.write("+OK\r\n".getBytes(StandardCharsets.US_ASCII));
                        }
                        out.flush();
                    }
                } catch (Exception e) {
                    // the proxy closed the connection
                }
            }, "fast-pop3");
            server.setDaemon(true);
            server.start();
            try (ProxyServer proxy = new ProxyServer(1, "u", "p")) {
                proxy.usePop3Upstream(pop3.getLocalPort(), "u", "p");
                try (Pop3Client c = new Pop3Client(proxy.port())) {
                    c.line();
                    c.command("USER alice");
                    assertThat(c.command("PASS secret")).startsWith("+OK");
                    proxy.upstreamBytes.set(0);
                    c.send("RETR 1");
                    assertBounded(proxy, c);
                }
            }
        }
    }

    @Test
    void pop3OverImapReadsUpstreamOnlyAsFastAsTheClientReads() throws Exception {
        String literal = new String(body(), StandardCharsets.ISO_8859_1);
        try (ScriptedImapServer imap = new ScriptedImapServer()
                .on("CAPABILITY", "* CAPABILITY IMAP4rev1 UIDPLUS MOVE", "$TAG OK done")
                .on("EXAMINE \"INBOX\"", "* OK [UIDVALIDITY 1] ok", "$TAG OK done")
                .on("UID SEARCH ALL", "* SEARCH 7", "$TAG OK done")
                .on("UID FETCH 1:\\* \\(UID RFC822.SIZE\\)", "* 1 FETCH (UID 7 RFC822.SIZE " + BODY + ")", "$TAG OK done")
                .on("UID FETCH 7 \\(BODY.PEEK\\[\\]\\)", "* 1 FETCH (UID 7 BODY[] {" + BODY + "}\r\n" + literal + ")",
                        "$TAG OK done");
                ProxyServer proxy = new ProxyServer(imap.port(), "u", "p")) {
            proxy.core.client("alice", "secret", new Pop3Policy(Pop3Policy.Source.IMAP, "INBOX", false, OnDelete.parse("keep")));
            try (Pop3Client c = new Pop3Client(proxy.port())) {
                c.line();
                c.command("USER alice");
                assertThat(c.command("PASS secret")).startsWith("+OK maildrop has 1 messages");
                proxy.upstreamBytes.set(0);
                c.send("RETR 1");
                assertBounded(proxy, c);
            }
        }
    }
}
