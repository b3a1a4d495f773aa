package io.mailproxy.imap.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.imap.ImapLiteralChunk;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ImapCommandDecoderTest {

    private static final String TRANSCRIPT = "a1 CAPABILITY\r\n"
            + "a2 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n"
            + "a3 APPEND INBOX (\\Seen) {0}\r\n\r\n"
            + "a4 NOOP\n"
            + "a5 SELECT \"a {5}\"\r\n"
            + "a6 APPEND \"Sent Items\" {30}\r\nSubject: x\r\n\r\nbody {3}\r\nline\r\n\r\n";

    private static final List<String> EXPECTED = List.of(
            "seg|true|-1|a1 CAPABILITY",
            "seg|true|5|sync|a2 LOGIN {5}",
            "lit|alice",
            "seg|false|6|nonsync| {6+}",
            "lit|secret",
            "seg|false|-1|",
            "seg|true|0|sync|a3 APPEND INBOX (\\Seen) {0}",
            "seg|false|-1|",
            "seg|true|-1|a4 NOOP",
            "seg|true|-1|a5 SELECT \"a {5}\"",
            "seg|true|30|sync|a6 APPEND \"Sent Items\" {30}",
            "lit|Subject: x\r\n\r\nbody {3}\r\nline\r\n",
            "seg|false|-1|");

    /** Records what the decoder emits and accepts every synchronizing literal, as the session does. */
    static final class Recorder extends ChannelInboundHandlerAdapter {
        final List<String> events = new ArrayList<>();
        final StringBuilder literal = new StringBuilder();
        final StringBuilder bytes = new StringBuilder();
        final ImapCommandDecoder decoder;
        boolean reject;

        Recorder(ImapCommandDecoder decoder) {
            this.decoder = decoder;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof ImapCommandLine seg) {
                    bytes.append(seg.content().toString(StandardCharsets.UTF_8));
                    events.add("seg|" + seg.isFirst() + "|" + seg.literalLength()
                            + (seg.endsCommand() ? "" : seg.synchronizing() ? "|sync" : "|nonsync") + "|" + seg.text());
                    if (!seg.endsCommand() && seg.synchronizing()) {
                        if (reject) {
                            decoder.rejectLiteral();
                        } else {
                            decoder.acceptLiteral();
                        }
                    }
                } else if (msg instanceof ImapLiteralChunk chunk) {
                    bytes.append(chunk.content().toString(StandardCharsets.UTF_8));
                    literal.append(chunk.content().toString(StandardCharsets.UTF_8));
                    if (chunk.isLast()) {
                        events.add("lit|" + literal);
                        literal.setLength(0);
                    }
                } else {
                    events.add(msg.toString());
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    private static Recorder feed(int maxLine, long maxLiteral, byte[]... pieces) {
        ImapCommandDecoder decoder = new ImapCommandDecoder(maxLine, maxLiteral);
        Recorder r = new Recorder(decoder);
        EmbeddedChannel ch = new EmbeddedChannel(decoder, r);
        try {
            for (byte[] p : pieces) {
                ch.writeInbound(Unpooled.wrappedBuffer(p));
            }
        } finally {
            ch.finishAndReleaseAll();
        }
        return r;
    }

    @Test
    void decodesCommandsLiteralsAndLiteralPlus() {
        Recorder r = feed(1024, 1000, TRANSCRIPT.getBytes(StandardCharsets.UTF_8));
        assertThat(r.events).isEqualTo(EXPECTED);
        assertThat(r.bytes).hasToString(TRANSCRIPT);
    }

    @Test
    void everySplitPointDecodesTheSame() {
        byte[] all = TRANSCRIPT.getBytes(StandardCharsets.UTF_8);
        for (int i = 1; i < all.length; i++) {
            for (int j = i; j < all.length; j += 23) {
                Recorder r = feed(1024, 1000, Arrays.copyOfRange(all, 0, i), Arrays.copyOfRange(all, i, j),
                        Arrays.copyOfRange(all, j, all.length));
                assertThat(r.events).as("split at %d, %d", i, j).isEqualTo(EXPECTED);
                assertThat(r.bytes).hasToString(TRANSCRIPT);
            }
        }
    }

    @Test
    void byteByByteDecodesTheSame() {
        byte[] all = TRANSCRIPT.getBytes(StandardCharsets.UTF_8);
        byte[][] pieces = new byte[all.length][];
        for (int i = 0; i < all.length; i++) {
            pieces[i] = new byte[] {all[i]};
        }
        assertThat(feed(1024, 1000, pieces).events).isEqualTo(EXPECTED);
    }

    @Test
    void overlongFirstLineIsReportedAndSkipped() {
        String input = "x1 NOOP " + "a".repeat(100) + "\r\nx2 NOOP\r\n";
        byte[] all = input.getBytes(StandardCharsets.US_ASCII);
        for (int i = 1; i < all.length; i++) {
            Recorder r = feed(64, 100, Arrays.copyOfRange(all, 0, i), Arrays.copyOfRange(all, i, all.length));
            assertThat(r.events).as("split at %d", i).containsExactly(
                    "ImapCommandError[kind=LINE_TOO_LONG, tag=x1, midCommand=false, recoverable=true]",
                    "seg|true|-1|x2 NOOP");
        }
    }

    @Test
    void overlongLineAfterALiteralIsFatal() {
        Recorder r = feed(64, 100, ("x1 LOGIN {2}\r\nab " + "c".repeat(80) + "\r\nx2 NOOP\r\n").getBytes(StandardCharsets.US_ASCII));
        assertThat(r.events).containsExactly("seg|true|2|sync|x1 LOGIN {2}", "lit|ab",
                "ImapCommandError[kind=LINE_TOO_LONG, tag=x1, midCommand=true, recoverable=false]");
    }

    @Test
    void synchronizingLiteralOverLimitIsRefusedBeforeItIsSent() {
        Recorder r = feed(64, 100, "x1 LOGIN {101}\r\nx2 NOOP\r\n".getBytes(StandardCharsets.US_ASCII));
        assertThat(r.events).containsExactly(
                "ImapCommandError[kind=LITERAL_TOO_LARGE, tag=x1, midCommand=false, recoverable=true]",
                "seg|true|-1|x2 NOOP");
    }

    @Test
    void nonSynchronizingLiteralOverLimitIsFatal() {
        Recorder r = feed(64, 100, ("x1 LOGIN {101+}\r\n" + "z".repeat(101) + "\r\nx2 NOOP\r\n").getBytes(StandardCharsets.US_ASCII));
        assertThat(r.events).containsExactly(
                "ImapCommandError[kind=LITERAL_TOO_LARGE, tag=x1, midCommand=false, recoverable=false]");
    }

    @Test
    void rejectedLiteralLetsTheNextCommandThrough() {
        ImapCommandDecoder decoder = new ImapCommandDecoder(64, 100);
        Recorder r = new Recorder(decoder);
        r.reject = true;
        EmbeddedChannel ch = new EmbeddedChannel(decoder, r);
        try {
            ch.writeInbound(Unpooled.copiedBuffer("x1 APPEND Junk {10}\r\n", StandardCharsets.US_ASCII));
            ch.writeInbound(Unpooled.copiedBuffer("x2 NOOP\r\n", StandardCharsets.US_ASCII));
        } finally {
            ch.finishAndReleaseAll();
        }
        assertThat(r.events).containsExactly("seg|true|10|sync|x1 APPEND Junk {10}", "seg|true|-1|x2 NOOP");
    }

    @Test
    void largeLiteralIsStreamedInChunks() {
        ImapCommandDecoder decoder = new ImapCommandDecoder(64, 20_000_000);
        List<Integer> sizes = new ArrayList<>();
        EmbeddedChannel ch = new EmbeddedChannel(decoder, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof ImapLiteralChunk c) {
                    sizes.add(c.content().readableBytes());
                }
                ReferenceCountUtil.release(msg);
            }
        });
        try {
            ch.writeInbound(Unpooled.copiedBuffer("x1 APPEND INBOX {10000000+}\r\n", StandardCharsets.US_ASCII));
            for (int i = 0; i < 100; i++) {
                ch.writeInbound(Unpooled.wrappedBuffer(new byte[100_000]));
                assertThat(decoder.bufferedBytes()).isZero();
            }
        } finally {
            ch.finishAndReleaseAll();
        }
        assertThat(sizes).hasSize(100).allMatch(s -> s == 100_000);
    }

    /** RFC 3501 section 9: tag = 1*<any ASTRING-CHAR except "+">; "]" is an ASTRING-CHAR, "(", ")", "{" are not. */
    @Test
    void tagsFollowRfc3501() {
        for (String ok : List.of("A001 NOOP\r\n", "a.b NOOP\r\n", "x]y NOOP\r\n", "a[ NOOP\r\n", "abc\r\n",
                "t APPEND INBOX {5}\r\n", "DONE\n")) {
            assertThat(validTag(ok)).as(ok).isTrue();
        }
        for (String bad : List.of("a)b SELECT Drafts\r\n", "(a NOOP\r\n", "a{5}\r\n", "a%b NOOP\r\n", "* NOOP\r\n",
                "+ NOOP\r\n", "\"a\" NOOP\r\n", "a\\b NOOP\r\n", " NOOP\r\n", "\r\n", "a\tb NOOP\r\n",
                "a\rb NOOP\r\n", "\u00e4 NOOP\r\n")) {
            assertThat(validTag(bad)).as(bad).isFalse();
        }
    }

    private static boolean validTag(String text) {
        ImapCommandLine line = new ImapCommandLine(true, -1, true, Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        try {
            return line.hasValidTag();
        } finally {
            line.release();
        }
    }
}
