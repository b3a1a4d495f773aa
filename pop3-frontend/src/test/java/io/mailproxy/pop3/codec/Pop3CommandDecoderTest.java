package io.mailproxy.pop3.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class Pop3CommandDecoderTest {

    private static List<Object> decode(int max, long abusive, byte[] input, int... splits) {
        EmbeddedChannel ch = new EmbeddedChannel(new Pop3CommandDecoder(max, abusive));
        try {
            int from = 0;
            for (int split : splits) {
                ch.writeInbound(Unpooled.wrappedBuffer(input, from, split - from));
                from = split;
            }
            ch.writeInbound(Unpooled.wrappedBuffer(input, from, input.length - from));
            List<Object> out = new ArrayList<>();
            Object m;
            while ((m = ch.readInbound()) != null) {
                out.add(m);
            }
            return out;
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void everySplitPointDecodesTheSame() {
        byte[] in = bytes("USER alice\r\nPASS s3cr\u00e9t with space\r\nstat\nLIST 1\r\n\r\n");
        List<Object> expected = List.of(
                new Pop3CommandLine("USER alice"),
                new Pop3CommandLine("PASS s3cr\u00e9t with space"),
                new Pop3CommandLine("stat"),
                new Pop3CommandLine("LIST 1"),
                new Pop3CommandLine(""));
        assertThat(decode(64, 1000, in)).isEqualTo(expected);
        for (int i = 1; i < in.length; i++) {
            assertThat(decode(64, 1000, in, i)).as("split at %d", i).isEqualTo(expected);
            for (int j = i + 1; j < in.length; j++) {
                assertThat(decode(64, 1000, in, i, j)).as("split at %d and %d", i, j).isEqualTo(expected);
            }
        }
    }

    @Test
    void verbIsCaseInsensitiveAndArgumentKeepsEverythingAfterTheFirstSpace() {
        Pop3CommandLine line = new Pop3CommandLine("pass two  spaces ");
        assertThat(line.verb()).isEqualTo("PASS");
        assertThat(line.argument()).isEqualTo("two  spaces ");
        assertThat(line.toString()).doesNotContain("two");
    }

    @Test
    void lineOfExactlyTheLimitPassesAndOneMoreOctetIsRefusedAtEverySplit() {
        String ok = "X".repeat(30) + "\r\n";      // 32 octets with CRLF
        String tooLong = "Y".repeat(31) + "\r\n"; // 33 octets
        byte[] in = bytes(ok + tooLong + "NOOP\r\n");
        List<Object> expected = List.of(new Pop3CommandLine("X".repeat(30)), new Pop3OversizeLine(33, false),
                new Pop3CommandLine("NOOP"));
        for (int i = 0; i < in.length; i++) {
            assertThat(i == 0 ? decode(32, 1000, in) : decode(32, 1000, in, i)).as("split at %d", i).isEqualTo(expected);
        }
    }

    @Test
    void oversizeLineArrivingInPiecesIsDiscardedUpToItsLf() {
        byte[] in = bytes("Z".repeat(100) + "\r\nQUIT\r\n");
        for (int i = 1; i < in.length; i++) {
            List<Object> out = decode(32, 1000, in, i);
            assertThat(out).as("split at %d", i)
                    .containsExactly(new Pop3OversizeLine(102, false), new Pop3CommandLine("QUIT"));
        }
    }

    @Test
    void abusiveLineIsReportedBeforeItEnds() {
        EmbeddedChannel ch = new EmbeddedChannel(new Pop3CommandDecoder(32, 200));
        try {
            for (int i = 0; i < 10; i++) {
                ch.writeInbound(Unpooled.wrappedBuffer(bytes("A".repeat(50))));
            }
            Pop3OversizeLine report = ch.readInbound();
            assertThat(report.abusive()).isTrue();
            assertThat(report.octets()).isGreaterThanOrEqualTo(200);
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void partialLineIsKeptUntilItsEnd() {
        EmbeddedChannel ch = new EmbeddedChannel(new Pop3CommandDecoder(64, 1000));
        try {
            ch.writeInbound(Unpooled.wrappedBuffer(bytes("NO")));
            assertThat((Object) ch.readInbound()).isNull();
            ch.writeInbound(Unpooled.wrappedBuffer(bytes("OP\r")));
            assertThat((Object) ch.readInbound()).isNull();
            ch.writeInbound(Unpooled.wrappedBuffer(bytes("\n")));
            assertThat((Object) ch.readInbound()).isEqualTo(new Pop3CommandLine("NOOP"));
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
