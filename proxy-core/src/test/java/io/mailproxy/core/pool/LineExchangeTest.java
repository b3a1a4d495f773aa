package io.mailproxy.core.pool;

import io.mailproxy.testkit.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class LineExchangeTest {

    private final MutableClock clock = new MutableClock(PoolFixture.START);
    private final ManualScheduler scheduler = new ManualScheduler(clock);

    private static EmbeddedChannel channel() {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.pipeline().addLast("tls", new ChannelDuplexHandler());
        ch.config().setAutoRead(false);
        return ch;
    }

    private CompletableFuture<String> start(EmbeddedChannel ch, Protocol protocol, String command) {
        return LineExchange.run(ch, protocol, "mpx7", command, scheduler, Duration.ofSeconds(15));
    }

    private static String written(EmbeddedChannel ch) {
        StringBuilder out = new StringBuilder();
        ByteBuf buf;
        while ((buf = ch.readOutbound()) != null) {
            out.append(buf.toString(StandardCharsets.US_ASCII));
            buf.release();
        }
        return out.toString();
    }

    private static void feed(EmbeddedChannel ch, String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
    }

    private static UpstreamException failure(CompletableFuture<?> f) {
        assertThat(f).isCompletedExceptionally();
        try {
            f.join();
            throw new AssertionError("not failed");
        } catch (CompletionException e) {
            return (UpstreamException) e.getCause();
        }
    }

    @Test
    void imapReplyWithUntaggedDataAndALiteralSplitAtEveryByte() {
        String reply = "* 4 EXISTS\r\n* 1 FETCH (BODY[HEADER] {12}\r\nSubject: x\r\n)\r\n* OK [ALERT] hi\r\n"
                + "mpx7 OK UNSELECT completed.\r\n";
        for (int split = 0; split < reply.length(); split++) {
            EmbeddedChannel ch = channel();
            try {
                CompletableFuture<String> result = start(ch, Protocol.IMAP, "UNSELECT");
                assertThat(written(ch)).isEqualTo("mpx7 UNSELECT\r\n");
                feed(ch, reply.substring(0, split));
                assertThat(result).as("split at %d", split).isNotDone();
                feed(ch, reply.substring(split));
                assertThat(result).as("split at %d", split).isCompletedWithValue("mpx7 OK UNSELECT completed.");
                assertThat(ch.pipeline().toMap().keySet()).containsExactly("tls");
                assertThat((Object) ch.readInbound()).isNull();
            } finally {
                ch.finishAndReleaseAll();
            }
        }
        assertThat(scheduler.queued()).isZero(); // every timeout cancelled
    }

    @Test
    void smtpMultiLineReplySplitAtEveryByte() {
        String reply = "250-first\r\n250-second\r\n250 2.0.0 Resetting\r\n";
        for (int split = 0; split < reply.length(); split++) {
            EmbeddedChannel ch = channel();
            try {
                CompletableFuture<String> result = start(ch, Protocol.SMTP, "RSET");
                assertThat(written(ch)).isEqualTo("RSET\r\n");
                feed(ch, reply.substring(0, split));
                assertThat(result).isNotDone();
                feed(ch, reply.substring(split));
                assertThat(result).isCompletedWithValue("250 2.0.0 Resetting");
                assertThat(LineExchange.smtpCode(result.join())).isEqualTo(250);
            } finally {
                ch.finishAndReleaseAll();
            }
        }
    }

    @Test
    void byeEndsTheExchangeAndTheChannel() {
        EmbeddedChannel ch = channel();
        try {
            CompletableFuture<String> result = start(ch, Protocol.IMAP, "NOOP");
            feed(ch, "* BYE Session invalidated - AccessTokenExpired\r\n");
            UpstreamException e = failure(result);
            assertThat(e.kind()).isEqualTo(Kind.UNREACHABLE);
            assertThat(e.upstreamReply()).contains("* BYE Session invalidated - AccessTokenExpired");
            assertThat(ch.isActive()).isFalse();
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void aContinuationRequestOrAForeignTagIsAProtocolError() {
        for (String reply : new String[] {"+ go ahead\r\n", "a1 OK LOGIN completed\r\n", "garbage\r\n"}) {
            EmbeddedChannel ch = channel();
            try {
                CompletableFuture<String> result = start(ch, Protocol.IMAP, "NOOP");
                feed(ch, reply);
                assertThat(failure(result).kind()).isEqualTo(Kind.PROTOCOL_ERROR);
                assertThat(ch.pipeline().toMap().keySet()).containsExactly("tls");
            } finally {
                ch.finishAndReleaseAll();
            }
        }
    }

    @Test
    void bytesAfterTheReplyAreAProtocolError() {
        EmbeddedChannel ch = channel();
        try {
            CompletableFuture<String> result = start(ch, Protocol.SMTP, "NOOP");
            feed(ch, "250 2.0.0 OK\r\n421 4.4.2 bye\r\n");
            assertThat(failure(result).kind()).isEqualTo(Kind.PROTOCOL_ERROR);
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void anOverlongLineIsAProtocolError() {
        EmbeddedChannel ch = channel();
        try {
            CompletableFuture<String> result = start(ch, Protocol.IMAP, "NOOP");
            feed(ch, "* " + "x".repeat(LineExchange.MAX_LINE));
            assertThat(failure(result).kind()).isEqualTo(Kind.PROTOCOL_ERROR);
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void noReplyWithinTheTimeoutFails() {
        EmbeddedChannel ch = channel();
        try {
            CompletableFuture<String> result = start(ch, Protocol.IMAP, "NOOP");
            scheduler.advance(Duration.ofSeconds(14));
            ch.runPendingTasks();
            assertThat(result).isNotDone();
            scheduler.advance(Duration.ofSeconds(1));
            ch.runPendingTasks();
            assertThat(failure(result).kind()).isEqualTo(Kind.TIMED_OUT);
            assertThat(ch.pipeline().toMap().keySet()).containsExactly("tls");
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    @Test
    void theUpstreamClosingMidReplyFails() {
        EmbeddedChannel ch = channel();
        try {
            CompletableFuture<String> result = start(ch, Protocol.IMAP, "NOOP");
            feed(ch, "mpx7 O");
            ch.close();
            assertThat(failure(result).kind()).isEqualTo(Kind.UNREACHABLE);
        } finally {
            ch.finishAndReleaseAll();
        }
    }
}
