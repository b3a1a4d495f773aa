package io.mailproxy.smtp.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.smtp.codec.SmtpInbound.CommandLine;
import io.mailproxy.smtp.codec.SmtpInbound.DataAbandoned;
import io.mailproxy.smtp.codec.SmtpInbound.DataChunk;
import io.mailproxy.smtp.codec.SmtpInbound.DataEnd;
import io.mailproxy.smtp.codec.SmtpInbound.DataRefused;
import io.mailproxy.smtp.codec.SmtpInbound.LineTooLong;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SmtpServerDecoderTest {

    /** Plays the session: enters DATA after a "DATA" line and writes what it sees as a transcript. */
    private static final class Recorder extends ChannelInboundHandlerAdapter {
        final SmtpServerDecoder decoder;
        final long maxSize;
        final List<String> events = new ArrayList<>();
        final StringBuilder data = new StringBuilder();

        Recorder(SmtpServerDecoder decoder, long maxSize) {
            this.decoder = decoder;
            this.maxSize = maxSize;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof CommandLine line) {
                events.add("CMD " + line.text());
                if (line.text().equals("DATA")) {
                    decoder.startData(maxSize);
                }
            } else if (msg instanceof DataChunk chunk) {
                try {
                    data.append(chunk.content().toString(StandardCharsets.ISO_8859_1));
                } finally {
                    chunk.release();
                }
            } else if (msg instanceof DataRefused refused) {
                events.add("REFUSED " + refused.outcome());
            } else if (msg instanceof DataEnd end) {
                events.add("BODY[" + data + "]");
                data.setLength(0);
                events.add("END " + end.outcome() + " " + end.size());
            } else if (msg instanceof DataAbandoned abandoned) {
                events.add("BODY[" + data + "]");
                data.setLength(0);
                events.add("ABANDONED " + abandoned.outcome() + (abandoned.discarded() > 1024 ? " over 1024" : " early"));
            } else if (msg instanceof LineTooLong tooLong) {
                events.add("TOO LONG " + tooLong.limit());
            }
        }
    }

    /** The max-discard of the decoders these tests make. */
    private static long maxDiscard = SmtpServerDecoder.DEFAULT_MAX_DISCARD;

    private static List<String> decode(List<byte[]> fragments, int maxLine, long maxSize) {
        SmtpServerDecoder decoder = new SmtpServerDecoder(maxLine);
        decoder.setMaxDiscard(maxDiscard);
        Recorder recorder = new Recorder(decoder, maxSize);
        EmbeddedChannel ch = new EmbeddedChannel(decoder, recorder);
        try {
            for (byte[] f : fragments) {
                ch.writeInbound(Unpooled.wrappedBuffer(f));
            }
            List<String> events = new ArrayList<>(recorder.events);
            if (recorder.data.length() > 0) {
                events.add("PENDING[" + recorder.data + "]");
            }
            return events;
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    /** Decodes the input whole, byte by byte, and split in two at every point; all must agree. */
    private static List<String> decodeEverySplit(String input, int maxLine, long maxSize) {
        byte[] bytes = input.getBytes(StandardCharsets.ISO_8859_1);
        List<String> whole = decode(List.of(bytes), maxLine, maxSize);
        for (int i = 1; i < bytes.length; i++) {
            byte[] a = java.util.Arrays.copyOfRange(bytes, 0, i);
            byte[] b = java.util.Arrays.copyOfRange(bytes, i, bytes.length);
            assertThat(decode(List.of(a, b), maxLine, maxSize)).as("split at %d", i).isEqualTo(whole);
        }
        List<byte[]> single = new ArrayList<>();
        for (byte x : bytes) {
            single.add(new byte[] {x});
        }
        assertThat(decode(single, maxLine, maxSize)).as("byte by byte").isEqualTo(whole);
        return whole;
    }

    private static List<String> decodeEverySplit(String input) {
        return decodeEverySplit(input, 1000, 1 << 20);
    }

    @Test
    void aRefusedMessageThatGoesOnPastMaxDiscardIsAbandonedAndNothingAfterItIsRead() {
        maxDiscard = 1024;
        try {
            String tooBig = "DATA\r\n" + ("x".repeat(48) + "\r\n").repeat(3) + ("y".repeat(98) + "\r\n").repeat(11)
                    + ".\r\nNOOP\r\n";
            assertThat(decodeEverySplit(tooBig, 1000, 100)).containsExactly("CMD DATA", "REFUSED TOO_BIG",
                    "BODY[" + ("x".repeat(48) + "\r\n").repeat(2) + "x]", "ABANDONED TOO_BIG over 1024");
            // a stream of CRs never starts the CR-to-CR jump: it is counted all the same
            String crs = "DATA\r\nab\rcd" + "\r".repeat(3000) + "\r\n.\r\nNOOP\r\n";
            assertThat(decodeEverySplit(crs, 1000, 100)).containsExactly("CMD DATA", "REFUSED BARE_LINE_ENDING",
                    "BODY[ab]", "ABANDONED BARE_LINE_ENDING over 1024");
            // within the limit the end of data still ends it, and the next command is read
            String small = "DATA\r\n" + ("z".repeat(98) + "\r\n").repeat(5) + ".\r\nNOOP\r\n";
            assertThat(decodeEverySplit(small, 1000, 100)).endsWith("END TOO_BIG 500", "CMD NOOP");
        } finally {
            maxDiscard = SmtpServerDecoder.DEFAULT_MAX_DISCARD;
        }
    }

    @Test
    void commandLinesAndPipelining() {
        assertThat(decodeEverySplit("EHLO client.example\r\nMAIL FROM:<a@b.example> SIZE=10\r\nRCPT TO:<c@d.example>\r\n"))
                .containsExactly("CMD EHLO client.example", "CMD MAIL FROM:<a@b.example> SIZE=10", "CMD RCPT TO:<c@d.example>");
    }

    @Test
    void commandLineEndingInBareLfIsAccepted() {
        assertThat(decodeEverySplit("NOOP\nQUIT\r\n")).containsExactly("CMD NOOP", "CMD QUIT");
    }

    @Test
    void utf8CommandLine() {
        String utf8AsLatin1 = new String("RCPT TO:<jörg@bücher.example>\r\n".getBytes(StandardCharsets.UTF_8),
                StandardCharsets.ISO_8859_1);
        assertThat(decodeEverySplit(utf8AsLatin1)).containsExactly("CMD RCPT TO:<jörg@bücher.example>");
    }

    @Test
    void lineOverTheLimitIsRefusedAndSkippedToItsEnd() {
        String ok = "X".repeat(998); // 998 + CRLF = 1000 octets: allowed
        String tooLong = "Y".repeat(999);
        List<String> events = decodeEverySplit("NOOP " + ok.substring(5) + "\r\n" + tooLong + "\r\nNOOP\r\n", 1000, 1 << 20);
        assertThat(events).containsExactly("CMD NOOP " + ok.substring(5), "TOO LONG 1000", "CMD NOOP");
    }

    @Test
    void veryLongLineIsNotBuffered() {
        List<String> events = decode(List.of(("Z".repeat(5000)).getBytes(StandardCharsets.US_ASCII),
                "Z\r\nNOOP\r\n".getBytes(StandardCharsets.US_ASCII)), 1000, 1 << 20);
        assertThat(events).containsExactly("TOO LONG 1000", "CMD NOOP");
    }

    @Test
    void dataEndsAtCrLfDotCrLfAndKeepsStuffing() {
        String body = "Subject: hi\r\n\r\n..leading dot\r\n.. \r\n...\r\nlast\r\n";
        assertThat(decodeEverySplit("DATA\r\n" + body + ".\r\nQUIT\r\n"))
                .containsExactly("CMD DATA", "BODY[" + body + "]", "END COMPLETE " + (body.length() - 3), "CMD QUIT");
    }

    @Test
    void emptyMessage() {
        assertThat(decodeEverySplit("DATA\r\n.\r\nNOOP\r\n")).containsExactly("CMD DATA", "BODY[]", "END COMPLETE 0", "CMD NOOP");
    }

    @Test
    void lineHoldingOnlyADotEndsTheMessageEvenAfterAnEmptyLine() {
        assertThat(decodeEverySplit("DATA\r\na\r\n\r\n.\r\n"))
                .containsExactly("CMD DATA", "BODY[a\r\n\r\n]", "END COMPLETE 5");
    }

    @Test
    void dotNotAtLineStartIsContent() {
        String body = "a.\r\nb .\r\n";
        assertThat(decodeEverySplit("DATA\r\n" + body + ".\r\n"))
                .containsExactly("CMD DATA", "BODY[" + body + "]", "END COMPLETE " + body.length());
    }

    @Test
    void bareLfIsRefusedAndNeverForwarded() {
        List<String> events = decodeEverySplit("DATA\r\nhello\nworld\r\n.\r\nNOOP\r\n");
        assertThat(events).containsExactly("CMD DATA", "REFUSED BARE_LINE_ENDING", "BODY[hello]", "END BARE_LINE_ENDING 13",
                "CMD NOOP");
    }

    @Test
    void bareCrIsRefused() {
        List<String> events = decodeEverySplit("DATA\r\nab\rcd\r\n.\r\nNOOP\r\n");
        assertThat(events.get(1)).isEqualTo("REFUSED BARE_LINE_ENDING");
        assertThat(events).endsWith("CMD NOOP");
        assertThat(String.join("|", events)).doesNotContain("\rc");
    }

    @Test
    void smugglingLfDotLfNeitherEndsNorPasses() {
        List<String> events = decodeEverySplit(
                "DATA\r\nSubject: a\r\n\r\nbody\n.\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<v@y.example>\r\nDATA\r\nevil\r\n.\r\nQUIT\r\n");
        assertThat(events).containsExactly("CMD DATA", "REFUSED BARE_LINE_ENDING", "BODY[Subject: a\r\n\r\nbody]",
                events.get(3), "CMD QUIT");
        assertThat(events.get(3)).startsWith("END BARE_LINE_ENDING");
    }

    @Test
    void smugglingCrDotCrNeitherEndsNorPasses() {
        List<String> events = decodeEverySplit("DATA\r\nbody\r.\rMAIL FROM:<evil@x.example>\r\n.\r\nQUIT\r\n");
        assertThat(events.get(1)).isEqualTo("REFUSED BARE_LINE_ENDING");
        assertThat(events.get(2)).isEqualTo("BODY[body]");
        assertThat(events).doesNotContain("CMD MAIL FROM:<evil@x.example>").endsWith("CMD QUIT");
    }

    @Test
    void smugglingCrLfDotLfNeitherEndsNorPasses() {
        List<String> events = decodeEverySplit("DATA\r\nbody\r\n.\nMAIL FROM:<evil@x.example>\r\n.\r\nQUIT\r\n");
        assertThat(events).containsExactly("CMD DATA", "REFUSED BARE_LINE_ENDING", "BODY[body\r\n]",
                events.get(3), "CMD QUIT");
    }

    @Test
    void smugglingLfDotCrLfNeitherEndsNorPasses() {
        List<String> events = decodeEverySplit("DATA\r\nbody\n.\r\nMAIL FROM:<evil@x.example>\r\n.\r\nQUIT\r\n");
        assertThat(events.get(1)).isEqualTo("REFUSED BARE_LINE_ENDING");
        assertThat(events).doesNotContain("CMD MAIL FROM:<evil@x.example>").endsWith("CMD QUIT");
    }

    @Test
    void dotCrWithoutLfAtLineStartIsRefused() {
        List<String> events = decodeEverySplit("DATA\r\na\r\n.\rb\r\n.\r\nNOOP\r\n");
        assertThat(events).containsExactly("CMD DATA", "REFUSED BARE_LINE_ENDING", "BODY[a\r\n]", events.get(3), "CMD NOOP");
    }

    @Test
    void messageOverTheSizeLimitIsRefusedAndReadToItsEnd() {
        List<String> events = decodeEverySplit("DATA\r\n0123456789\r\n0123456789\r\n.\r\nNOOP\r\n", 1000, 15);
        assertThat(events.get(1)).isEqualTo("REFUSED TOO_BIG");
        assertThat(events.get(2)).startsWith("BODY[0123456789\r\n");
        assertThat(events.get(3)).startsWith("END TOO_BIG");
        assertThat(events).endsWith("CMD NOOP");
    }

    @Test
    void dataStreamsInChunksBeforeTheEnd() {
        SmtpServerDecoder decoder = new SmtpServerDecoder(1000);
        Recorder recorder = new Recorder(decoder, 1 << 30);
        EmbeddedChannel ch = new EmbeddedChannel(decoder, recorder);
        try {
            ch.writeInbound(Unpooled.copiedBuffer("DATA\r\n", StandardCharsets.US_ASCII));
            String line = "x".repeat(70) + "\r\n";
            for (int i = 0; i < 1000; i++) {
                ch.writeInbound(Unpooled.copiedBuffer(line, StandardCharsets.US_ASCII));
                // everything decided so far has been handed on: nothing accumulates
                assertThat(recorder.data.length()).isEqualTo((i + 1) * line.length());
            }
            ch.writeInbound(Unpooled.copiedBuffer(".\r", StandardCharsets.US_ASCII));
            assertThat(recorder.events).containsExactly("CMD DATA");
            ch.writeInbound(Unpooled.copiedBuffer("\n", StandardCharsets.US_ASCII));
            assertThat(recorder.events).hasSize(3).endsWith("END COMPLETE " + 72_000);
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void pausedDecoderHoldsInputUntilResumed() {
        SmtpServerDecoder decoder = new SmtpServerDecoder(1000);
        Recorder recorder = new Recorder(decoder, 1 << 20);
        EmbeddedChannel ch = new EmbeddedChannel(decoder, recorder);
        try {
            decoder.pause();
            ch.writeInbound(Unpooled.copiedBuffer("NOOP\r\nQUIT\r\n", StandardCharsets.US_ASCII));
            assertThat(recorder.events).isEmpty();
            decoder.resume();
            assertThat(recorder.events).containsExactly("CMD NOOP", "CMD QUIT");
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void discardBufferedDropsPipelinedInput() {
        SmtpServerDecoder decoder = new SmtpServerDecoder(1000);
        List<String> seen = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel(decoder, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                String text = ((CommandLine) msg).text();
                seen.add(text);
                if (text.equals("STARTTLS")) {
                    decoder.pause();
                    decoder.discardBuffered();
                }
            }
        });
        try {
            ch.writeInbound(Unpooled.copiedBuffer("STARTTLS\r\nMAIL FROM:<injected@x.example>\r\n", StandardCharsets.US_ASCII));
            decoder.resume();
            ch.writeInbound(Unpooled.copiedBuffer("EHLO a\r\n", StandardCharsets.US_ASCII));
            assertThat(seen).containsExactly("STARTTLS", "EHLO a");
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
