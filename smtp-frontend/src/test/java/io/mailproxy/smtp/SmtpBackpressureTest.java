package io.mailproxy.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.core.upstream.UpstreamSession;
import io.mailproxy.smtp.codec.SmtpServerDecoder;
import io.mailproxy.smtp.session.SmtpSession;
import io.mailproxy.smtp.session.SmtpSettings;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.core.FakeLease;
import io.mailproxy.testkit.core.FakeListener;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Backpressure between a client and its leased upstream, on two EmbeddedChannels, so "the upstream is not writable"
 * happens exactly where a test puts it. While the upstream takes no more, the session stops decoding the client's
 * input (what arrives stays buffered in the framer); every way that wait can end (the upstream writable again, the
 * message refused, the upstream lost or stalled, shutdown) must let the client be read again, so it gets its final
 * reply after its CRLF.CRLF and can go on.
 */
class SmtpBackpressureTest {

    private static final long MAX_SIZE = 1000;
    private static final Duration REPLY_TIMEOUT = Duration.ofMinutes(10);

    private final FakeCore core = new FakeCore();
    private final List<EmbeddedChannel> upstreams = new ArrayList<>();
    private final List<String> leaseEnds = new ArrayList<>();
    private EmbeddedChannel ch;
    private long maxDiscard = SmtpServerDecoder.DEFAULT_MAX_DISCARD;

    /** A session of the fixed client "app" (max-size {@value #MAX_SIZE}), EHLO done, with its reply read. */
    private void open() {
        open(null);
    }

    /** @param spool when set, "app" has {@code smtp.queue = true} and its messages go there */
    private void open(io.mailproxy.smtp.queue.Spool spool) {
        SmtpSettings settings = SmtpSettingsBuilder.defaults()
                .timeouts(Duration.ofSeconds(60), Duration.ofMinutes(5), REPLY_TIMEOUT).maxDiscard(maxDiscard).build();
        core.client("app", "", new ClientConfig("app", Optional.empty(), Fixture.ACCOUNT_FROM, Set.of(Protocol.SMTP),
                ClientConfig.ImapPolicy.DEFAULT, ClientConfig.Pop3Policy.DEFAULT,
                new SmtpPolicy(SmtpPolicy.Sender.KEEP, SmtpPolicy.OriginalFrom.REPLY_TO, MAX_SIZE, spool != null)),
                Fixture.account());
        core.pools.opening((account, protocol) -> CompletableFuture.completedFuture(newSession())).onEnd((lease, end) -> {
            leaseEnds.add(switch (end) {
                case RELEASED -> "released";
                case RELEASED_DIRTY -> "released dirty";
                case DISCARDED -> "discarded";
            });
            if (end == FakeLease.End.DISCARDED) {
                lease.session().channel().close();
            }
        });
        SmtpServerDecoder decoder = new SmtpServerDecoder(settings.maxLine());
        decoder.setMaxDiscard(settings.maxDiscard());
        ch = new EmbeddedChannel();
        ch.pipeline().addLast(decoder, new SmtpSession(core, new FakeListener(Protocol.SMTP).fixedClient("app"), settings, decoder,
                spool));
        assertThat(output()).startsWith("220 ");
        assertThat(send("EHLO client.test\r\n")).startsWith("250-");
    }

    /** A leased upstream connection: an EmbeddedChannel whose outbound side is what went upstream. */
    private UpstreamSession newSession() {
        EmbeddedChannel up = new EmbeddedChannel();
        up.config().setAutoRead(false);
        upstreams.add(up);
        return new UpstreamSession(Protocol.SMTP, up, "220 fake.upstream ready",
                Set.of("PIPELINING", "SIZE 157286400", "8BITMIME", "ENHANCEDSTATUSCODES"), Optional.empty());
    }

    @AfterEach
    void close() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
        for (EmbeddedChannel up : upstreams) {
            up.finishAndReleaseAll();
        }
    }

    /** Everything the proxy wrote to the client so far (tasks the upstream side queued for it run first). */
    private String output() {
        for (int i = 0; i < 2; i++) { // the upstream's loop and the client's hand work to each other
            upstreams.forEach(EmbeddedChannel::runPendingTasks);
            ch.runPendingTasks();
        }
        StringBuilder sb = new StringBuilder();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            sb.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return sb.toString();
    }

    private String send(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
        return output();
    }

    private EmbeddedChannel upstream() {
        return upstreams.get(upstreams.size() - 1);
    }

    /** Everything the proxy wrote to the current upstream connection so far. */
    private String upstreamReceived() {
        EmbeddedChannel up = upstream();
        up.runPendingTasks();
        StringBuilder sb = new StringBuilder();
        for (Object o; (o = up.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) o;
            sb.append(b.toString(StandardCharsets.ISO_8859_1));
            b.release();
        }
        return sb.toString();
    }

    /** The upstream answers; returns what the client got from it. */
    private String upstreamSays(String reply) {
        upstream().writeInbound(Unpooled.copiedBuffer(reply + "\r\n", StandardCharsets.ISO_8859_1));
        return output();
    }

    /** MAIL, RCPT and DATA relayed and answered; the session is in DATA. */
    private void startData() {
        assertThat(send("MAIL FROM:<app@legacy.example>\r\n")).isEmpty();
        assertThat(upstreamReceived()).isEqualTo("MAIL FROM:<app@legacy.example>\r\n");
        assertThat(upstreamSays("250 2.1.0 Sender OK")).isEqualTo("250 2.1.0 Sender OK\r\n");
        assertThat(send("RCPT TO:<boss@contoso.com>\r\n")).isEmpty();
        assertThat(upstreamReceived()).isEqualTo("RCPT TO:<boss@contoso.com>\r\n");
        assertThat(upstreamSays("250 2.1.5 Recipient OK")).isEqualTo("250 2.1.5 Recipient OK\r\n");
        assertThat(send("DATA\r\n")).isEmpty();
        assertThat(upstreamReceived()).isEqualTo("DATA\r\n");
        assertThat(upstreamSays("354 Start mail input; end with <CRLF>.<CRLF>"))
                .isEqualTo("354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    }

    /** The upstream stops taking data (its outbound buffer "full"), or takes it again. */
    private void upstreamWritable(boolean writable) {
        upstream().unsafe().outboundBuffer().setUserDefinedWritability(1, writable);
        assertThat(upstream().isWritable()).isEqualTo(writable);
    }

    /** A whole second transaction through a fresh upstream connection: the session is usable again. */
    private void nextTransactionWorks() {
        startData();
        assertThat(send("Subject: next\r\n\r\nsmall\r\n.\r\n")).isEmpty();
        assertThat(upstreamReceived()).isEqualTo("Subject: next\r\n\r\nsmall\r\n.\r\n");
        assertThat(upstreamSays("250 2.0.0 OK queued")).isEqualTo("250 2.0.0 OK queued\r\n");
    }

    private static String lines(int n) {
        return ("x".repeat(98) + "\r\n").repeat(n); // 100 octets each
    }

    @Test
    void whileTheUpstreamIsNotWritableTheClientIsNotDecodedAndWritableAgainGoesOn() {
        open();
        startData();
        upstreamWritable(false);
        assertThat(send("Subject: slow\r\n\r\n" + lines(2))).isEmpty();
        assertThat(upstreamReceived()).isEqualTo("Subject: slow\r\n\r\n" + lines(2));
        // held in the framer, not decoded: nothing more goes upstream while it cannot take it
        assertThat(send(lines(3) + ".\r\nNOOP\r\n")).isEmpty();
        assertThat(upstreamReceived()).isEmpty();
        upstreamWritable(true);
        assertThat(output()).isEmpty();
        assertThat(upstreamReceived()).isEqualTo(lines(3) + ".\r\n");
        assertThat(upstreamSays("250 2.0.0 OK queued")).isEqualTo("250 2.0.0 OK queued\r\n250 2.0.0 OK\r\n");
        assertThat(leaseEnds).containsExactly("released");
    }

    /** A never-ending DATA: past max-discard after its refusal, the client gets its 552 and is closed. */
    @Test
    void aRefusedMessageThatNeverEndsIsAbandonedWithItsReplyAndTheConnectionClosed() {
        maxDiscard = 4096;
        open();
        startData();
        assertThat(send("Subject: big\r\n\r\n" + lines(12))).isEmpty(); // over max-size (1000): refused
        assertThat(leaseEnds).containsExactly("discarded");
        assertThat(send(lines(60))).isEqualTo("552 5.3.4 Message too big; closing connection\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    /**
     * A client still sending a refused (over-size) message is not idle, though the framer passes the session nothing
     * while it discards: it keeps sending past the idle timeout and gets its 552 at the end, not a 421.
     */
    @Test
    void aClientStillSendingARefusedMessageIsNotIdle() {
        open();
        startData();
        assertThat(send("Subject: big\r\n\r\n" + lines(12))).isEmpty(); // over max-size: refused, now discarded
        for (int minute = 0; minute < 12; minute++) { // 12 minutes, idle-timeout is 5
            ch.advanceTimeBy(1, TimeUnit.MINUTES);
            assertThat(send(lines(1))).as("minute %d", minute).isEmpty();
            ch.runScheduledPendingTasks();
            assertThat(output()).isEmpty();
        }
        assertThat(send(".\r\n")).startsWith("552 5.3.4");
        assertThat(ch.isOpen()).isTrue();
    }

    /**
     * The benchmark's hang: the chunk that carries the message over the client's max-size is the one that finds the
     * upstream not writable. The session paused the framer for the backpressure, then the refusal dropped the
     * upstream (which therefore never says "writable" again) and cleared the backpressure without resuming: nothing
     * read the client again. Now the rest is read and dropped, the 552 comes after the client's CRLF.CRLF, and the
     * session goes on.
     */
    @Test
    void messageOverMaxSizeWhileTheUpstreamIsNotWritableGets552AfterTheEndAndTheSessionGoesOn() {
        open();
        startData();
        upstreamWritable(false);
        assertThat(send("Subject: big\r\n\r\n" + lines(12) + ".\r\nRSET\r\n"))
                .isEqualTo("552 5.3.4 Message too big\r\n250 2.0.0 OK\r\n");
        assertThat(upstreamReceived()).startsWith("Subject: big\r\n\r\n").doesNotContain("\r\n.\r\n");
        assertThat(leaseEnds).containsExactly("discarded");
        nextTransactionWorks();
        assertThat(leaseEnds).containsExactly("discarded", "released");
    }

    /** The same, with the end of the message in a later read: the client is still read after the refusal. */
    @Test
    void messageOverMaxSizeWhileNotWritableIsStillReadToItsEndInLaterReads() {
        open();
        startData();
        upstreamWritable(false);
        assertThat(send("Subject: big\r\n\r\n" + lines(12))).isEmpty();
        assertThat(send(lines(5000))).isEmpty();
        assertThat(send(lines(1) + ".\r\n")).isEqualTo("552 5.3.4 Message too big\r\n");
        assertThat(send("NOOP\r\n")).isEqualTo("250 2.0.0 OK\r\n");
        assertThat(leaseEnds).containsExactly("discarded");
    }

    @Test
    void bareLineEndingWhileTheUpstreamIsNotWritableGets550AfterTheEnd() {
        open();
        startData();
        upstreamWritable(false);
        assertThat(send("Subject: bad\r\n\r\nbare\nline\r\n.\r\nNOOP\r\n"))
                .isEqualTo("550 5.6.11 Bare CR or LF not allowed\r\n250 2.0.0 OK\r\n");
        assertThat(upstreamReceived()).doesNotContain("\r\n.\r\n");
        assertThat(leaseEnds).containsExactly("discarded");
    }

    /** Shutdown waits for the end of the message; a refusal while not writable must not make that wait for ever. */
    @Test
    void shutdownDuringDataThenMessageOverMaxSizeWhileNotWritableSays552Then421() {
        open();
        startData();
        assertThat(send("Subject: big\r\n\r\n" + lines(2))).isEmpty();
        ch.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE);
        assertThat(output()).isEmpty();
        upstreamWritable(false);
        assertThat(send(lines(12) + ".\r\n"))
                .isEqualTo("552 5.3.4 Message too big\r\n421 4.3.2 mx.test Service shutting down\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    /** An upstream that stays unwritable is dropped after the reply timeout; the client is read again. */
    @Test
    void upstreamThatStaysNotWritableIsDroppedAfterTheReplyTimeoutAndTheClientIsReadAgain() {
        open();
        startData();
        upstreamWritable(false);
        assertThat(send("Subject: stuck\r\n\r\n" + lines(2))).isEmpty();
        assertThat(send(lines(2) + ".\r\nNOOP\r\n")).isEmpty();
        ch.advanceTimeBy(REPLY_TIMEOUT.toMillis() + 1, TimeUnit.MILLISECONDS);
        ch.runScheduledPendingTasks();
        assertThat(output()).isEqualTo("451 4.4.2 Upstream connection lost, try again later\r\n250 2.0.0 OK\r\n");
        assertThat(leaseEnds).containsExactly("discarded");
        assertThat(ch.isOpen()).isTrue();
    }

    /** The upstream closes while the client is held back: the client is read again and told 451 at its end. */
    @Test
    void upstreamLostWhileNotWritableGives451AfterTheEndAndTheSessionGoesOn() {
        open();
        startData();
        upstreamWritable(false);
        assertThat(send("Subject: lost\r\n\r\n" + lines(2))).isEmpty();
        assertThat(send(lines(2) + ".\r\nRSET\r\n")).isEmpty();
        upstream().close();
        assertThat(output()).isEqualTo("451 4.4.2 Upstream connection lost, try again later\r\n250 2.0.0 OK\r\n");
        nextTransactionWorks();
    }

    /**
     * Store-and-forward: the client is not read while a spool write is pending. A message refused in that read is
     * read to its end and answered at once; the pending write and the abort of the message run after it, in order,
     * and nothing of the message stays in the spool.
     */
    @Test
    void queuedMessageOverMaxSizeWhileASpoolWriteIsPendingGets552AndLeavesNothingInTheSpool(
            @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.util.ArrayDeque<Runnable> disk = new java.util.ArrayDeque<>(); // the blocking executor, run by hand
        io.mailproxy.smtp.queue.Spool spool = io.mailproxy.smtp.queue.Spool.open(dir.resolve("spool"), 1L << 30,
                io.mailproxy.smtp.queue.Spool.Durability.FSYNC, disk::add, java.time.Clock.systemUTC(), Duration.ZERO);
        open(spool);
        assertThat(send("MAIL FROM:<app@legacy.example>\r\nRCPT TO:<boss@contoso.com>\r\nDATA\r\n"))
                .isEqualTo("250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n");
        assertThat(send("Subject: big\r\n\r\n" + lines(12) + ".\r\nNOOP\r\n"))
                .isEqualTo("552 5.3.4 Message too big\r\n250 2.0.0 OK\r\n");
        assertThat(disk).isNotEmpty();
        for (Runnable task; (task = disk.poll()) != null; ) {
            task.run();
        }
        assertThat(output()).isEmpty();
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.list(dir.resolve("spool"))) {
            assertThat(files.filter(java.nio.file.Files::isRegularFile)).isEmpty();
        }
        assertThat(spool.usedBytes()).isZero();
        assertThat(upstreams).isEmpty();
    }
}
