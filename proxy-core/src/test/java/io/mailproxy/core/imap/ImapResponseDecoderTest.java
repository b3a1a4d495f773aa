package io.mailproxy.core.imap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.TooLongFrameException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ImapResponseDecoderTest {

    private static final String BODY = "Subject: hi\r\n\r\n{5}\r\n* 1 FETCH looks like a response\r\nA1 OK too\r\n";
    private static final String TRANSCRIPT =
            "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"
            + "* 3 EXISTS\r\n"
            + "* 1 FETCH (UID 7 BODY[] {" + BODY.length() + "}\r\n" + BODY + " FLAGS (\\Seen))\r\n"
            + "* LIST (\\HasNoChildren) \"/\" {0}\r\n\r\n"
            + "* 2 FETCH (BODY[HEADER] {3}\r\nabc BODY[TEXT] {2+}\r\nxy)\r\n"
            + "+ idling\r\n"
            + "+\r\n"
            + "A1 ok FETCH completed\r\n"
            + "a.2 NO [TRYCREATE] no such mailbox\r\n"
            // status response text is text, never a literal (RFC 3501 resp-text), even when it ends in {n}
            + "a3 NO Mailbox doesn't exist: x{9999}\r\n"
            + "* OK [ALERT] over quota {12}\r\n"
            + "* PREAUTH hi {1}\r\n"
            + "+ send {3}\r\n"
            + "* BYE Session invalidated - AccessTokenExpired\n";

    /** What a consumer sees: one string per message, for comparing whole decodes. */
    private static List<String> decodeAll(List<byte[]> pieces, StringBuilder relayed) {
        EmbeddedChannel ch = new EmbeddedChannel(new ImapResponseDecoder(200));
        List<String> events = new ArrayList<>();
        ByteArrayOutputStream literal = new ByteArrayOutputStream();
        try {
            for (byte[] piece : pieces) {
                ch.writeInbound(Unpooled.wrappedBuffer(piece));
                Object msg;
                while ((msg = ch.readInbound()) != null) {
                    try {
                        if (msg instanceof ImapResponseLine line) {
                            relayed.append(line.content().toString(StandardCharsets.UTF_8));
                            events.add(line.kind() + "|" + line.tag() + "|" + line.status() + "|" + line.isFirst()
                                    + "|" + line.literalLength() + "|" + line.text());
                        } else {
                            ImapLiteralChunk chunk = (ImapLiteralChunk) msg;
                            ByteBuf c = chunk.content();
                            relayed.append(c.toString(StandardCharsets.UTF_8));
                            byte[] b = new byte[c.readableBytes()];
                            c.getBytes(c.readerIndex(), b);
                            literal.write(b, 0, b.length);
                            if (chunk.isLast()) {
                                events.add("literal|" + literal.toString(StandardCharsets.UTF_8));
                                literal.reset();
                            }
                        }
                    } finally {
                        io.netty.util.ReferenceCountUtil.release(msg);
                    }
                }
            }
            assertThat(literal.size()).as("no literal left incomplete").isZero();
            return events;
        } finally {
            assertThat(ch.finishAndReleaseAll()).isFalse();
        }
    }

    private static final List<String> EXPECTED = List.of(
            "UNTAGGED|*|OK|true|-1|* OK [CAPABILITY IMAP4rev1 LITERAL+] ready",
            "UNTAGGED|*|null|true|-1|* 3 EXISTS",
            "UNTAGGED|*|null|true|" + BODY.length() + "|* 1 FETCH (UID 7 BODY[] {" + BODY.length() + "}",
            "literal|" + BODY,
            "UNTAGGED|*|null|false|-1| FLAGS (\\Seen))",
            "UNTAGGED|*|null|true|0|* LIST (\\HasNoChildren) \"/\" {0}",
            "UNTAGGED|*|null|false|-1|",
            "UNTAGGED|*|null|true|3|* 2 FETCH (BODY[HEADER] {3}",
            "literal|abc",
            "UNTAGGED|*|null|false|2| BODY[TEXT] {2+}",
            "literal|xy",
            "UNTAGGED|*|null|false|-1|)",
            "CONTINUATION|+|null|true|-1|+ idling",
            "CONTINUATION|+|null|true|-1|+",
            "TAGGED|A1|OK|true|-1|A1 ok FETCH completed",
            "TAGGED|a.2|NO|true|-1|a.2 NO [TRYCREATE] no such mailbox",
            "TAGGED|a3|NO|true|-1|a3 NO Mailbox doesn't exist: x{9999}",
            "UNTAGGED|*|OK|true|-1|* OK [ALERT] over quota {12}",
            "UNTAGGED|*|PREAUTH|true|-1|* PREAUTH hi {1}",
            "CONTINUATION|+|null|true|-1|+ send {3}",
            "UNTAGGED|*|BYE|true|-1|* BYE Session invalidated - AccessTokenExpired");

    @Test
    void decodesWholeTranscript() {
        StringBuilder relayed = new StringBuilder();
        assertThat(decodeAll(List.of(TRANSCRIPT.getBytes(StandardCharsets.UTF_8)), relayed)).isEqualTo(EXPECTED);
        assertThat(relayed.toString()).isEqualTo(TRANSCRIPT);
    }

    @Test
    void decodesTheSameAtEverySplitPoint() {
        byte[] all = TRANSCRIPT.getBytes(StandardCharsets.UTF_8);
        for (int split = 1; split < all.length; split++) {
            for (int split2 = split; split2 < all.length; split2 += 61) {
                StringBuilder relayed = new StringBuilder();
                List<String> events = decodeAll(List.of(
                        java.util.Arrays.copyOfRange(all, 0, split),
                        java.util.Arrays.copyOfRange(all, split, split2),
                        java.util.Arrays.copyOfRange(all, split2, all.length)), relayed);
                assertThat(events).as("split at %d and %d", split, split2).isEqualTo(EXPECTED);
                assertThat(relayed.toString()).isEqualTo(TRANSCRIPT);
            }
        }
    }

    @Test
    void decodesByteByByte() {
        byte[] all = TRANSCRIPT.getBytes(StandardCharsets.UTF_8);
        List<byte[]> pieces = new ArrayList<>();
        for (byte b : all) {
            pieces.add(new byte[] {b});
        }
        StringBuilder relayed = new StringBuilder();
        assertThat(decodeAll(pieces, relayed)).isEqualTo(EXPECTED);
        assertThat(relayed.toString()).isEqualTo(TRANSCRIPT);
    }

    @Test
    void literalIsStreamedInChunksNotBuffered() {
        EmbeddedChannel ch = new EmbeddedChannel(new ImapResponseDecoder(64));
        try {
            ch.writeInbound(Unpooled.copiedBuffer("* 1 FETCH (BODY[] {1000000}\r\n", StandardCharsets.US_ASCII));
            ImapResponseLine line = ch.readInbound();
            assertThat(line.literalLength()).isEqualTo(1_000_000);
            line.release();
            long total = 0;
            for (int i = 0; i < 100; i++) {
                ch.writeInbound(Unpooled.wrappedBuffer(new byte[10_000]));
                ImapLiteralChunk chunk = ch.readInbound();
                assertThat(chunk.content().readableBytes()).isEqualTo(10_000);
                assertThat(chunk.isLast()).isEqualTo(i == 99);
                total += chunk.content().readableBytes();
                chunk.release();
                assertThat((Object) ch.readInbound()).isNull();
            }
            assertThat(total).isEqualTo(1_000_000);
            ch.writeInbound(Unpooled.copiedBuffer(")\r\n", StandardCharsets.US_ASCII));
            ImapResponseLine end = ch.readInbound();
            assertThat(end.endsResponse()).isTrue();
            assertThat(end.isFirst()).isFalse();
            end.release();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void lineOverLimitFailsEvenWithoutLineEnd() {
        EmbeddedChannel ch = new EmbeddedChannel(new ImapResponseDecoder(32));
        try {
            assertThatThrownBy(() -> ch.writeInbound(Unpooled.copiedBuffer("* OK " + "x".repeat(40), StandardCharsets.US_ASCII)))
                    .isInstanceOf(TooLongFrameException.class);
            // everything after a failure is discarded
            ch.writeInbound(Unpooled.copiedBuffer("* OK fine\r\n", StandardCharsets.US_ASCII));
            assertThat((Object) ch.readInbound()).isNull();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void lineOverLimitFailsWithLineEnd() {
        EmbeddedChannel ch = new EmbeddedChannel(new ImapResponseDecoder(32));
        try {
            assertThatThrownBy(() -> ch.writeInbound(Unpooled.copiedBuffer("* OK " + "x".repeat(30) + "\r\n", StandardCharsets.US_ASCII)))
                    .isInstanceOf(TooLongFrameException.class);
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void lineExactlyAtLimitPasses() {
        EmbeddedChannel ch = new EmbeddedChannel(new ImapResponseDecoder(32));
        try {
            String line = "* OK " + "x".repeat(25) + "\r\n";
            assertThat(line).hasSize(32);
            ch.writeInbound(Unpooled.copiedBuffer(line, StandardCharsets.US_ASCII));
            ImapResponseLine l = ch.readInbound();
            assertThat(l.text()).isEqualTo(line.trim());
            l.release();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void emptyLineAndHugeLiteralAreProtocolErrors() {
        EmbeddedChannel ch = new EmbeddedChannel(new ImapResponseDecoder());
        try {
            assertThatThrownBy(() -> ch.writeInbound(Unpooled.copiedBuffer("\r\n", StandardCharsets.US_ASCII)))
                    .isInstanceOf(DecoderException.class);
        } finally {
            ch.finishAndReleaseAll();
        }
        EmbeddedChannel ch2 = new EmbeddedChannel(new ImapResponseDecoder());
        try {
            assertThatThrownBy(() -> ch2.writeInbound(Unpooled.copiedBuffer("* 1 FETCH (BODY[] {1234567890123456789012}\r\n",
                    StandardCharsets.US_ASCII))).isInstanceOf(DecoderException.class);
        } finally {
            ch2.finishAndReleaseAll();
        }
    }

    @Test
    void braceInsideTextIsNotALiteral() {
        EmbeddedChannel ch = new EmbeddedChannel(new ImapResponseDecoder());
        try {
            ch.writeInbound(Unpooled.copiedBuffer("* OK \"a {5}\"\r\n* OK {x}\r\n+ {5}\r\n", StandardCharsets.US_ASCII));
            for (int i = 0; i < 3; i++) {
                ImapResponseLine l = ch.readInbound();
                assertThat(l.endsResponse()).as(l.text()).isTrue();
                l.release();
            }
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
