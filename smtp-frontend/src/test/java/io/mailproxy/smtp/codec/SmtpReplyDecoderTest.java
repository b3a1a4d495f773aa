package io.mailproxy.smtp.codec;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SmtpReplyDecoderTest {

    private static List<SmtpReply> decode(byte[] bytes, int split) {
        EmbeddedChannel ch = new EmbeddedChannel(new SmtpReplyDecoder());
        try {
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, 0, split));
            ch.writeInbound(Unpooled.wrappedBuffer(bytes, split, bytes.length - split));
            List<SmtpReply> out = new ArrayList<>();
            for (Object o; (o = ch.readInbound()) != null; ) {
                out.add((SmtpReply) o);
            }
            return out;
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void multiLineRepliesAtEverySplit() {
        byte[] input = ("250-smtp.office365.com Hello\r\n250-SIZE 157286400\r\n250 SMTPUTF8\r\n"
                + "550 5.7.60 SMTP; Client does not have permissions to send as this sender\r\n").getBytes(StandardCharsets.US_ASCII);
        for (int split = 0; split <= input.length; split++) {
            List<SmtpReply> replies = decode(input, split);
            assertThat(replies).as("split %d", split).containsExactly(
                    new SmtpReply(250, List.of("smtp.office365.com Hello", "SIZE 157286400", "SMTPUTF8")),
                    SmtpReply.of(550, "5.7.60 SMTP; Client does not have permissions to send as this sender"));
            assertThat(replies.get(1).enhancedCode()).contains("5.7.60");
        }
    }

    @Test
    void encodesLikeTheWire() {
        assertThat(new SmtpReply(250, List.of("a", "b")).encode()).isEqualTo("250-a\r\n250 b\r\n");
        assertThat(SmtpReply.of(354, "Go ahead").encode()).isEqualTo("354 Go ahead\r\n");
    }
}
