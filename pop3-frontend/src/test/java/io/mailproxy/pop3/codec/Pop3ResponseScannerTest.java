package io.mailproxy.pop3.codec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class Pop3ResponseScannerTest {

    /** Feeds {@code wire} in two pieces cut at {@code split}; returns the absolute end index found, or -1. */
    private static int endAfterSplit(Pop3ResponseScanner s, String wire, int split) {
        byte[] bytes = wire.getBytes(StandardCharsets.US_ASCII);
        ByteBuf a = Unpooled.wrappedBuffer(bytes, 0, split);
        ByteBuf b = Unpooled.wrappedBuffer(bytes, split, bytes.length - split);
        try {
            int end = split == 0 ? -1 : s.scan(a);
            if (end >= 0) {
                return end;
            }
            end = s.scan(b);
            return end < 0 ? -1 : split + end;
        } finally {
            a.release();
            b.release();
        }
    }

    @Test
    void multiLineOkEndsAtTheTerminatorAtEverySplit() {
        String wire = "+OK 2 messages\r\n..dot\r\n.\r\n";
        for (int split = 0; split < wire.length(); split++) {
            Pop3ResponseScanner s = new Pop3ResponseScanner(512);
            s.expect(true);
            assertThat(endAfterSplit(s, wire + "", split)).as("split %d", split).isEqualTo(wire.length());
            assertThat(s.ok()).isTrue();
            assertThat(s.statusLine()).isEqualTo("+OK 2 messages");
            assertThat(s.inResponse()).isFalse();
        }
    }

    @Test
    void errorToAMultiLineCommandIsOneLine() {
        Pop3ResponseScanner s = new Pop3ResponseScanner(512);
        s.expect(true);
        ByteBuf b = Unpooled.copiedBuffer("-ERR no such message\r\n", StandardCharsets.US_ASCII);
        try {
            assertThat(s.scan(b)).isEqualTo(b.writerIndex());
            assertThat(s.ok()).isFalse();
        } finally {
            b.release();
        }
    }

    @Test
    void emptyListAndBodyLinesThatOnlyLookLikeTheEnd() {
        String wire = "+OK\r\n.x\r\n. \r\n.\r\n";
        Pop3ResponseScanner s = new Pop3ResponseScanner(512);
        s.expect(true);
        ByteBuf b = Unpooled.copiedBuffer(wire, StandardCharsets.US_ASCII);
        try {
            assertThat(s.scan(b)).isEqualTo(wire.length());
        } finally {
            b.release();
        }
        s.expect(true);
        ByteBuf c = Unpooled.copiedBuffer("+OK\r\n.\r\n", StandardCharsets.US_ASCII);
        try {
            assertThat(s.scan(c)).isEqualTo(8);
        } finally {
            c.release();
        }
    }

    @Test
    void garbageAndUnsolicitedBytesAreErrors() {
        Pop3ResponseScanner s = new Pop3ResponseScanner(512);
        ByteBuf b = Unpooled.copiedBuffer("* OK\r\n", StandardCharsets.US_ASCII);
        try {
            assertThatThrownBy(() -> s.scan(b)).isInstanceOf(IllegalStateException.class);
            s.expect(false);
            assertThatThrownBy(() -> s.scan(b)).isInstanceOf(IllegalStateException.class);
        } finally {
            b.release();
        }
    }
}
