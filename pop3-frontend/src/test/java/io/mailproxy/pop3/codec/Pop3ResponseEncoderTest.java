package io.mailproxy.pop3.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class Pop3ResponseEncoderTest {

    /** Encodes a status line and a body fed in chunks cut at the given offsets. */
    private static String encode(byte[] body, int... splits) {
        EmbeddedChannel ch = new EmbeddedChannel(new Pop3ResponseEncoder());
        try {
            ch.writeOutbound(Pop3Response.ok("follows"));
            int from = 0;
            for (int split : splits) {
                ch.writeOutbound(new Pop3Data(Unpooled.copiedBuffer(body, from, split - from)));
                from = split;
            }
            ch.writeOutbound(new Pop3Data(Unpooled.copiedBuffer(body, from, body.length - from)));
            ch.writeOutbound(Pop3Data.END);
            return new String(drain(ch), StandardCharsets.ISO_8859_1);
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    private static byte[] drain(EmbeddedChannel ch) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            byte[] a = new byte[b.readableBytes()];
            b.readBytes(a);
            out.writeBytes(a);
            b.release();
        }
        return out.toByteArray();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** RFC 1939 section 3, as a client reads it: lines up to ".", a leading dot removed, CRLF kept. */
    static byte[] unstuff(byte[] wire) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        // skip the status line
        while (wire[i] != '\n') {
            i++;
        }
        i++;
        while (true) {
            int lf = i;
            while (wire[lf] != '\n') {
                lf++;
            }
            int start = i;
            if (wire[start] == '.') {
                if (lf - start == 2 && wire[start + 1] == '\r') {
                    return out.toByteArray();
                }
                start++;
            }
            out.write(wire, start, lf + 1 - start);
            i = lf + 1;
        }
    }

    @Test
    void statusLineGetsCrlf() {
        EmbeddedChannel ch = new EmbeddedChannel(new Pop3ResponseEncoder());
        try {
            ch.writeOutbound(Pop3Response.err("[AUTH] Authentication failed"));
            assertThat(new String(drain(ch), StandardCharsets.US_ASCII)).isEqualTo("-ERR [AUTH] Authentication failed\r\n");
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void linesStartingWithADotGetAnotherAtEverySplitPoint() {
        byte[] body = bytes(".first\r\nmiddle.\r\n.\r\n..two\r\nlast\r\n");
        String expected = "+OK follows\r\n..first\r\nmiddle.\r\n..\r\n...two\r\nlast\r\n.\r\n";
        assertThat(encode(body)).isEqualTo(expected);
        for (int i = 0; i <= body.length; i++) {
            for (int j = i; j <= body.length; j++) {
                assertThat(encode(body, i, j)).as("split at %d, %d", i, j).isEqualTo(expected);
            }
        }
    }

    @Test
    void lastLineWithoutCrlfGetsOneBeforeTheTerminator() {
        byte[] body = bytes("a\r\n.b");
        for (int i = 0; i <= body.length; i++) {
            assertThat(encode(body, i)).as("split at %d", i).isEqualTo("+OK follows\r\na\r\n..b\r\n.\r\n");
        }
        assertThat(encode(bytes("ends in CR\r"))).isEqualTo("+OK follows\r\nends in CR\r\r\n.\r\n");
    }

    @Test
    void emptyBodyIsJustTheTerminator() {
        assertThat(encode(new byte[0])).isEqualTo("+OK follows\r\n.\r\n");
    }

    @Test
    void dotAfterABareLfIsStuffedSoNoClientSeesAnEarlyEnd() {
        assertThat(encode(bytes("x\n.\r\ny\r\n"))).isEqualTo("+OK follows\r\nx\n..\r\ny\r\n.\r\n");
    }

    @Test
    void unstuffedOutputIsByteIdenticalPlusCrlfWhenMissing() {
        Random random = new Random(42);
        for (int round = 0; round < 50; round++) {
            byte[] body = new byte[random.nextInt(3000)];
            for (int i = 0; i < body.length; i++) {
                int r = random.nextInt(10);
                body[i] = (byte) (r < 2 ? '.' : r < 4 ? '\r' : r < 5 ? '\n' : 'a' + r);
            }
            // make line ends CRLF, as in a message
            String text = new String(body, StandardCharsets.ISO_8859_1).replace("\r", "").replace("\n", "\r\n");
            byte[] message = bytes(text);
            int[] cuts = random.ints(4, 0, message.length + 1).sorted().toArray();
            byte[] wire = bytes(encode(message, cuts));
            byte[] expected = text.endsWith("\r\n") || text.isEmpty() ? message : bytes(text + "\r\n");
            assertThat(unstuff(wire)).as("round %d", round).isEqualTo(expected);
        }
    }

    @Test
    void rawBytesPassThroughUntouched() {
        EmbeddedChannel ch = new EmbeddedChannel(new Pop3ResponseEncoder());
        try {
            ch.writeOutbound(Unpooled.copiedBuffer(".already stuffed\r\n", StandardCharsets.US_ASCII));
            assertThat(new String(drain(ch), StandardCharsets.US_ASCII)).isEqualTo(".already stuffed\r\n");
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
