package io.mailproxy.smtp.upstream;

import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.upstream.UpstreamSession;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.codec.SmtpReplyDecoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One SMTP transaction on a leased upstream connection, from MAIL to the final reply. Every method is called on
 * the client's event loop, and every callback runs there (replies hop over from the upstream channel's loop), so the
 * session needs no locks.
 *
 * <p>Replies are matched to commands in order (RFC 2920). When the connection is lost, each command still waiting
 * gets {@link #LOST} as its reply, so the client always gets one reply per command.
 */
public final class UpstreamTransaction {

    private static final Logger log = LoggerFactory.getLogger(UpstreamTransaction.class);

    /** Stands in for the reply of a command whose connection was lost (compare by identity). */
    public static final SmtpReply LOST = SmtpReply.of(451, "4.4.2 Upstream connection lost, try again later");

    private static final String DECODER = "smtp-reply-decoder";
    private static final String HANDLER = "smtp-upstream";

    /** Tells the session about the connection itself. */
    public interface Events {
        /** The upstream became writable again after {@link #writable()} said false. */
        void writable();

        /** The connection was lost or timed out; pending commands already got {@link #LOST}. */
        void lost(String reason);
    }

    private final Lease lease;
    private final Channel channel;
    private final EventLoop clientLoop;
    private final Events events;
    private final Duration replyTimeout;
    private final String sessionId;
    private final String account;
    private final Deque<Consumer<SmtpReply>> pending = new ArrayDeque<>();
    /** Entries of {@link #pending} that wait for no upstream reply: the session's own, in command order. */
    private final java.util.Map<Consumer<SmtpReply>, SmtpReply> local = new java.util.IdentityHashMap<>();
    private ScheduledFuture<?> timer;
    /** Armed while the upstream does not take message bytes (not writable): it may not stall a session for ever. */
    private ScheduledFuture<?> stallTimer;
    private boolean finished;
    /** A command went upstream: the pool must reset the connection (RSET) before it is leased again. */
    private boolean used;
    /** Completes (on any thread) once the lease has ended: released to the pool, or discarded. */
    private final CompletableFuture<Void> returned = new CompletableFuture<>();

    private UpstreamTransaction(Lease lease, EventLoop clientLoop, Events events, Duration replyTimeout,
                                String sessionId, String account) {
        this.lease = lease;
        this.channel = lease.session().channel();
        this.clientLoop = clientLoop;
        this.events = events;
        this.replyTimeout = replyTimeout;
        this.sessionId = sessionId;
        this.account = account;
    }

    /** Takes over the leased channel (hand-over contract of {@link UpstreamSession}). */
    public static UpstreamTransaction attach(Lease lease, EventLoop clientLoop, Events events, Duration replyTimeout,
                                             String sessionId, String account) {
        UpstreamTransaction tx = new UpstreamTransaction(lease, clientLoop, events, replyTimeout, sessionId, account);
        Channel ch = tx.channel;
        ch.pipeline().addLast(DECODER, new SmtpReplyDecoder());
        ch.pipeline().addLast(HANDLER, tx.new Bridge());
        ch.config().setOption(ChannelOption.AUTO_READ, true);
        if (!ch.isActive()) {
            clientLoop.execute(() -> tx.lose("the upstream connection was closed before use"));
        }
        return tx;
    }

    /** What the administrator must change after this Office 365 reply, if it is one of the known ones. */
    public static java.util.Optional<String> explain(SmtpReply reply, String account) {
        return Office365Replies.explain(reply, account);
    }

    public UpstreamSession session() {
        return lease.session();
    }

    public boolean pipelining() {
        return lease.session().hasCapability("PIPELINING");
    }

    public boolean has(String capability) {
        return lease.session().hasCapability(capability);
    }

    /** Commands sent whose replies have not arrived. */
    public int outstanding() {
        return pending.size();
    }

    public boolean isFinished() {
        return finished;
    }

    /**
     * Completes once the lease has ended and the pool knows it (a released connection is then being reset, and the
     * pool keeps it for its next waiter instead of opening another one; a discarded one is closed). A session acquires
     * its next lease only after this, so one client session never holds two upstream connections of an account.
     */
    public CompletableFuture<Void> returned() {
        return returned;
    }

    /** Sends a command line (without CRLF); {@code onReply} gets its reply, or {@link #LOST}. */
    public void command(String line, Consumer<SmtpReply> onReply) {
        if (finished) {
            onReply.accept(LOST);
            return;
        }
        pending.add(onReply);
        used = true;
        armTimer();
        channel.writeAndFlush(ByteBufUtil.writeUtf8(channel.alloc(), line + "\r\n"))
                .addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
    }

    /**
     * Answers a command locally, but only after the replies due to the commands sent before it (RFC 2920: replies
     * come in command order). {@code onReply} gets {@code reply} at once when nothing is outstanding; it gets
     * {@code reply} too, never {@link #LOST}, if the connection is lost meanwhile.
     */
    public void reply(SmtpReply reply, Consumer<SmtpReply> onReply) {
        if (pending.isEmpty()) {
            onReply.accept(reply);
            return;
        }
        local.put(onReply, reply);
        pending.add(onReply);
    }

    /** Forwards message bytes as they are (still dot-stuffed); takes ownership of {@code chunk}. */
    public void data(ByteBuf chunk) {
        if (finished) {
            chunk.release();
            return;
        }
        channel.writeAndFlush(chunk).addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
        if (!channel.isWritable() && stallTimer == null) {
            stallTimer = clientLoop.schedule(this::stalled, replyTimeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void stalled() {
        stallTimer = null;
        if (!finished && !channel.isWritable()) {
            lose("the upstream took no message data for " + replyTimeout.toSeconds() + " s");
        }
    }

    private void cancelStallTimer() {
        if (stallTimer != null) {
            stallTimer.cancel(false);
            stallTimer = null;
        }
    }

    /** Ends the message with the final dot; the message bytes sent so far ended with CRLF. */
    public void endData(Consumer<SmtpReply> onReply) {
        command(".", onReply);
    }

    public boolean writable() {
        return finished || channel.isWritable();
    }

    /**
     * The transaction ended with a final reply: the connection goes back to the pool (which resets it with RSET, or
     * not at all when nothing was sent upstream). {@link #returned()} completes once the pool has it.
     */
    public void release() {
        if (finish()) {
            boolean dirty = !pending.isEmpty();
            boolean unused = !used;
            // Our handlers come off on the upstream channel's own loop; the lease is handed back after that.
            try {
                channel.eventLoop().execute(() -> {
                    try {
                        channel.config().setOption(ChannelOption.AUTO_READ, false);
                        if (channel.pipeline().get(HANDLER) != null) {
                            channel.pipeline().remove(HANDLER);
                        }
                        if (channel.pipeline().get(DECODER) != null) {
                            channel.pipeline().remove(DECODER);
                        }
                        if (unused && !dirty) {
                            lease.releaseUnused();
                        } else {
                            lease.release(dirty);
                        }
                    } finally {
                        returned.complete(null);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                discardLease(); // the upstream's event loop is gone (shutdown)
            }
        }
    }

    /** Aborts (client gone mid-DATA, a limit hit): the connection is closed, never pooled, no final dot sent. */
    public void discard() {
        if (finish()) {
            discardLease();
        }
    }

    private void discardLease() {
        try {
            lease.discard();
        } finally {
            returned.complete(null);
        }
    }

    private boolean finish() {
        if (finished) {
            return false;
        }
        finished = true;
        cancelTimer();
        cancelStallTimer();
        return true;
    }

    private void armTimer() {
        if (timer == null) {
            timer = clientLoop.schedule(this::timedOut, replyTimeout.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private void timedOut() {
        timer = null;
        if (!finished && !pending.isEmpty()) {
            lose("no reply from the upstream within " + replyTimeout.toSeconds() + " s");
        }
    }

    private void deliver(SmtpReply reply) {
        if (finished) {
            return;
        }
        Consumer<SmtpReply> callback = pending.poll();
        if (callback == null) {
            lose("unexpected reply from the upstream: " + reply.oneLine());
            return;
        }
        cancelTimer();
        if (!pending.isEmpty()) {
            armTimer();
        }
        if (!reply.positive()) {
            Office365Replies.explain(reply, account).ifPresent(hint ->
                    log.warn("[{}] upstream replied {}: {}", sessionId, reply.oneLine(), hint));
        }
        callback.accept(reply);
        // the session's own replies queued behind this command are due now
        while (!finished && !pending.isEmpty() && local.containsKey(pending.peek())) {
            Consumer<SmtpReply> next = pending.poll();
            next.accept(local.remove(next));
        }
        if (pending.isEmpty()) {
            cancelTimer();
        }
    }

    private void lose(String reason) {
        if (finished) {
            return;
        }
        finish();
        discardLease();
        log.warn("[{}] upstream SMTP connection of account {} lost: {}", sessionId, account, reason);
        while (!pending.isEmpty()) {
            Consumer<SmtpReply> next = pending.poll();
            SmtpReply own = local.remove(next);
            next.accept(own != null ? own : LOST);
        }
        events.lost(reason);
    }

    /** Runs on the upstream channel's loop; everything it learns hops to the client's loop. */
    private final class Bridge extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof SmtpReply reply) {
                clientLoop.execute(() -> deliver(reply));
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            clientLoop.execute(() -> lose("the upstream closed the connection"));
            ctx.fireChannelInactive();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                clientLoop.execute(() -> {
                    cancelStallTimer();
                    if (!finished) {
                        events.writable();
                    }
                });
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            String reason = cause.getClass().getSimpleName() + ": " + cause.getMessage();
            ctx.close();
            clientLoop.execute(() -> lose(reason));
        }
    }
}
