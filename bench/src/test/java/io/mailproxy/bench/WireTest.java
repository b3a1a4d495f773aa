package io.mailproxy.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The benchmark client's parsing, fed over a loopback socket in small pieces. */
class WireTest {

    private ServerSocket server;
    private Socket peer;
    private Wire wire;

    @BeforeEach
    void connect() throws Exception {
        server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        wire = Wire.plain(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort()));
        peer = server.accept();
    }

    @AfterEach
    void close() throws Exception {
        wire.close();
        peer.close();
        server.close();
    }

    /** Writes {@code s} in pieces of {@code piece} octets, flushing each. */
    private void feed(String s, int piece) throws Exception {
        OutputStream out = peer.getOutputStream();
        byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        for (int i = 0; i < b.length; i += piece) {
            out.write(b, i, Math.min(piece, b.length - i));
            out.flush();
        }
    }

    @Test
    void linesSplitAnywhere() throws Exception {
        feed("* OK ready\r\nsecond line\r\n", 1);
        assertThat(wire.line()).isEqualTo("* OK ready");
        assertThat(wire.line()).isEqualTo("second line");
    }

    @Test
    void imapLiteralsAreSkippedAndCounted() throws Exception {
        String body = "line one\r\n{5}\r\nnot a literal header\r\n";
        feed("* 1 FETCH (UID 1 BODY[] {" + body.length() + "}\r\n" + body + ")\r\n"
                + "* 2 FETCH (BODY[] {3}\r\nabc)\r\nc OK done\r\n", 7);
        long[] bytes = new long[1];
        assertThat(wire.imapUntil("c", bytes)).isEqualTo("c OK done");
        assertThat(bytes[0]).isEqualTo(body.length() + 3);
    }

    @Test
    void dotTerminatedCountsTheStuffedBody() throws Exception {
        feed("+OK 12 octets\r\nab\r\n..dot\r\n.\r\nnext\r\n", 3);
        assertThat(wire.line()).isEqualTo("+OK 12 octets");
        assertThat(wire.dotTerminated()).isEqualTo("ab\r\n..dot\r\n".length());
        assertThat(wire.line()).isEqualTo("next");
    }

    @Test
    void emptyMultiLineBody() throws Exception {
        feed("+OK\r\n.\r\n", 1);
        wire.line();
        assertThat(wire.dotTerminated()).isZero();
    }

    @Test
    void smtpMultiLineReplyEndsAtTheSpaceLine() throws Exception {
        feed("250-one\r\n250-two\r\n250 three\r\n", 4);
        assertThat(wire.smtpReply()).isEqualTo("250 three");
    }

    @Test
    void readableOnlyOnceTheServerSaidSomething() throws Exception {
        assertThat(wire.readable()).isFalse();
        feed("552 5.3.4 Message too big\r\n", 64);
        await().atMost(Duration.ofSeconds(5)).until(wire::readable);
        assertThat(wire.smtpReply()).isEqualTo("552 5.3.4 Message too big");
        assertThat(wire.readable()).isFalse();
    }
}
