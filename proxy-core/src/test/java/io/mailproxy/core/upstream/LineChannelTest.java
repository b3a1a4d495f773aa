package io.mailproxy.core.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LineChannelTest {

    private final List<UpstreamException> failures = new ArrayList<>();

    private LineChannel lines(int max) {
        return new LineChannel(max, Duration.ofSeconds(30), failures::add);
    }

    private static ByteBuf bytes(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
    }

    @Test
    void linesSplitAtEveryByteComeOutWholeAndNothingIsLeftOver() {
        String input = "250-smtp.example Hello\r\n250-SIZE 157286400\r\n250 SMTPUTF8\r\n";
        for (int split = 0; split <= input.length(); split++) {
            LineChannel lines = lines(1024);
            EmbeddedChannel ch = new EmbeddedChannel(lines);
            try {
                List<String> got = new ArrayList<>();
                CompletableFuture<String> first = lines.readLine("EHLO");
                ch.writeInbound(bytes(input.substring(0, split)));
                if (split < input.indexOf('\n') + 1) {
                    assertThat(first).isNotDone();
                }
                ch.writeInbound(bytes(input.substring(split)));
                got.add(first.join());
                got.add(lines.readLine("EHLO").join());
                got.add(lines.readLine("EHLO").join());
                assertThat(got).containsExactly("250-smtp.example Hello", "250-SIZE 157286400", "250 SMTPUTF8");
                assertThat(lines.buffered()).isZero();
                assertThat(failures).isEmpty();
            } finally {
                ch.finishAndReleaseAll();
                failures.clear(); // closing the channel reports "closed by upstream", as it should
            }
        }
    }

    /**
     * Between replies the login holds no buffer: a connection dropped or abandoned (event loops shut down) while it
     * waits for the upstream's next reply has nothing to release (the daemon's end-to-end tests caught such a leak).
     */
    @Test
    void noBufferIsHeldWhileNoBytesAreUnread() {
        io.netty.buffer.UnpooledByteBufAllocator alloc = new io.netty.buffer.UnpooledByteBufAllocator(false, false, false);
        LineChannel lines = lines(1024);
        EmbeddedChannel ch = new EmbeddedChannel(lines);
        ch.config().setAllocator(alloc);
        try {
            CompletableFuture<String> greeting = lines.readLine("the greeting");
            ch.writeInbound(bytes("* OK ready\r\n"));
            assertThat(greeting.join()).isEqualTo("* OK ready");
            assertThat(alloc.metric().usedHeapMemory()).isZero();

            CompletableFuture<String> reply = lines.readLine("AUTHENTICATE");
            ch.writeInbound(bytes("A1 OK AUTH"));
            assertThat(alloc.metric().usedHeapMemory()).isPositive();
            ch.writeInbound(bytes("ENTICATE completed\r\n* extra"));
            assertThat(reply.join()).isEqualTo("A1 OK AUTHENTICATE completed");
            assertThat(lines.buffered()).isEqualTo("* extra".length());
            CompletableFuture<String> extra = lines.readLine("more");
            ch.writeInbound(bytes("\r\n"));
            assertThat(extra.join()).isEqualTo("* extra");
            assertThat(alloc.metric().usedHeapMemory()).isZero();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void oneByteAtATimeAndBareLf() {
        LineChannel lines = lines(1024);
        EmbeddedChannel ch = new EmbeddedChannel(lines);
        try {
            CompletableFuture<String> a = lines.readLine("greeting");
            for (byte b : "+OK ready\r\n".getBytes(StandardCharsets.US_ASCII)) {
                ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
            }
            assertThat(a.join()).isEqualTo("+OK ready");
            ch.writeInbound(bytes("bare\n"));
            assertThat(lines.readLine("x").join()).isEqualTo("bare");
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void bytesAfterTheAwaitedLineStayBufferedUnread() {
        LineChannel lines = lines(1024);
        EmbeddedChannel ch = new EmbeddedChannel(lines);
        try {
            CompletableFuture<String> ok = lines.readLine("STARTTLS");
            ch.writeInbound(bytes("220 2.0.0 SMTP server ready\r\n250 injected"));
            assertThat(ok.join()).isEqualTo("220 2.0.0 SMTP server ready");
            assertThat(lines.buffered()).isEqualTo("250 injected".length());
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void overlongLineIsAProtocolError() {
        LineChannel lines = lines(16);
        EmbeddedChannel ch = new EmbeddedChannel(lines);
        try {
            CompletableFuture<String> f = lines.readLine("CAPA");
            ch.writeInbound(bytes("x".repeat(17)));
            assertThat(f).isCompletedExceptionally();
            assertThat(failures).singleElement().satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.PROTOCOL_ERROR));
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void silenceTimesOutAfterTheReplyTimeout() {
        LineChannel lines = lines(1024);
        EmbeddedChannel ch = new EmbeddedChannel(lines);
        try {
            CompletableFuture<String> f = lines.readLine("the reply to NOOP");
            ch.advanceTimeBy(29, TimeUnit.SECONDS);
            ch.runScheduledPendingTasks();
            assertThat(f).isNotDone();
            ch.advanceTimeBy(2, TimeUnit.SECONDS);
            ch.runScheduledPendingTasks();
            assertThat(f).isCompletedExceptionally();
            assertThat(failures).singleElement().satisfies(e -> {
                assertThat(e.kind()).isEqualTo(Kind.TIMED_OUT);
                assertThat(e.getMessage()).contains("the reply to NOOP");
            });
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void closeWhileWaitingIsUnreachable() {
        LineChannel lines = lines(1024);
        EmbeddedChannel ch = new EmbeddedChannel(lines);
        CompletableFuture<String> f = lines.readLine("the greeting");
        ch.close();
        assertThat(f).isCompletedExceptionally();
        assertThat(failures).singleElement().satisfies(e -> assertThat(e.kind()).isEqualTo(Kind.UNREACHABLE));
        ch.finishAndReleaseAll();
    }

    @Test
    void removingTheHandlerReleasesWhatItBuffered() {
        LineChannel lines = lines(1024);
        EmbeddedChannel ch = new EmbeddedChannel(lines);
        try {
            ch.writeInbound(bytes("partial"));
            assertThat(lines.buffered()).isEqualTo(7);
            ch.pipeline().remove(lines);
            assertThat(lines.buffered()).isZero();
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
