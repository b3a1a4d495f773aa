package io.mailproxy.smtp.session;

import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.smtp.codec.SmtpCommand;
import io.mailproxy.smtp.codec.SmtpInbound.DataAbandoned;
import io.mailproxy.smtp.codec.SmtpInbound.DataChunk;
import io.mailproxy.smtp.codec.SmtpInbound.DataEnd;
import io.mailproxy.smtp.codec.SmtpInbound.DataOutcome;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.rewrite.HeaderBlockTooLargeException;
import io.mailproxy.smtp.rewrite.SenderRewriter;
import io.mailproxy.smtp.session.Transaction.Phase;
import io.mailproxy.smtp.upstream.UpstreamTransaction;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DATA (RFC 5321 4.1.1.4) and the message that follows it: its chunks go through the sender rewriter (if the policy
 * says so) to the transaction's sink; a message refused while it streams is read and dropped to its end, where the
 * client gets the refusal.
 */
final class DataCommand implements Command {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);
    /** How long a never-ending DATA is still read (and dropped) after its reply, before the connection is closed. */
    private static final long ABANDON_LINGER_MILLIS = 2_000;

    @Override
    public String refusal(SmtpState state) {
        return switch (state) {
            case CONNECTED -> SmtpReplies.SEND_HELO_FIRST;
            case MAIL -> null;
            default -> SmtpReplies.NEED_MAIL;
        };
    }

    @Override
    public void handle(SmtpSession s, SmtpCommand cmd) {
        Transaction t = s.txOrRefuse();
        if (t == null) {
            return;
        }
        if (!cmd.argument().isEmpty()) {
            s.error(SmtpReplies.DATA_SYNTAX);
            return;
        }
        if (t.phase == Phase.DEAD) {
            s.endTransaction();
            s.state(SmtpState.READY);
            s.send(UpstreamTransaction.LOST.encode());
            return;
        }
        if (t.accepted.isEmpty()) {
            s.error(SmtpReplies.NO_RECIPIENTS);
            return;
        }
        t.phase = Phase.AWAITING_354;
        t.sink.data(r -> {
            if (r.code() == 354) {
                t.phase = Phase.DATA;
                s.state(SmtpState.DATA);
                SmtpPolicy policy = s.login().client().smtp();
                if (policy.sender() == SmtpPolicy.Sender.REWRITE) {
                    t.rewriter = new SenderRewriter(t.account.from(), policy.originalFrom(),
                            s.settings.headerLimit());
                }
                s.decoder.startData(t.maxSize);
                s.send(r.encode());
            } else {
                s.endTransaction();
                s.state(SmtpState.READY);
                s.send(r.encode());
                s.stopIfShuttingDown();
            }
        });
    }

    /** Message bytes from the framer. */
    static void chunk(SmtpSession s, DataChunk chunk) {
        Transaction t = s.tx();
        if (t == null || t.abortReply != null || !t.sink.accepting()) {
            chunk.release();
            return;
        }
        ByteBuf out = chunk.content();
        if (t.rewriter != null) {
            try {
                out = t.rewriter.process(out, s.ctx().alloc());
            } catch (HeaderBlockTooLargeException e) {
                log.info("[{}] message refused: {}", s.sid(), e.getMessage());
                abort(s, t, SmtpReplies.HEADER_TOO_LARGE);
                return;
            }
        }
        t.sink.write(out);
    }

    /**
     * Gives up on the message: the sink drops it (an upstream connection without the final dot), and the rest of the
     * message is read and dropped up to the client's CRLF.CRLF, after which the client gets {@code reply}.
     *
     * <p>Reading must go on here. If the framer was paused for backpressure (the chunk that made the message too
     * big, say, found the upstream not writable), nothing else would ever resume it: a dropped upstream never
     * reports "writable" again, and a pending spool write, when it completes, finds the transaction may already be
     * gone. The session would hang until the idle timer closed it, without the client ever getting its reply.
     */
    static void abort(SmtpSession s, Transaction t, SmtpReply reply) {
        if (t.abortReply == null) {
            t.abortReply = reply;
        }
        t.sink.drop();
        t.backpressure = false;
        s.decoder.abortData(DataOutcome.ABORTED);
        s.proceed();
    }

    /** The framer refused the message (too big, a bare line ending): the rest is dropped. */
    static void refused(SmtpSession s, DataOutcome outcome) {
        Transaction t = s.tx();
        if (t == null) {
            return;
        }
        SmtpReply reply = refusal(outcome);
        log.info("[{}] message refused while it streamed: {}", s.sid(), reply.oneLine());
        abort(s, t, reply);
    }

    /** The reply to a message the framer refused. */
    private static SmtpReply refusal(DataOutcome outcome) {
        return switch (outcome) {
            case BARE_LINE_ENDING -> SmtpReplies.BARE_LINE_ENDING;
            case TOO_BIG -> SmtpReplies.TOO_BIG;
            default -> SmtpReplies.ABORTED;
        };
    }

    /**
     * The client went on sending a refused message for {@code max-discard} octets: it is not sending a message (a
     * never-ending DATA). Its reply, saying so, then the connection is closed; nothing more of it is read.
     */
    static void abandoned(SmtpSession s, DataAbandoned abandoned) {
        Transaction t = s.tx();
        ChannelHandlerContext ctx = s.ctx();
        SmtpReply why = t != null && t.abortReply != null ? t.abortReply : refusal(abandoned.outcome());
        log.warn("[{}] client still sending a refused message {} octets after its refusal ({}); closing", s.sid(),
                abandoned.discarded(), why.oneLine());
        io.mailproxy.core.runtime.SessionLog.outcome(ctx.channel(), "data-abandoned"); // counted by abandonTransaction
        String line = why.oneLine() + SmtpReplies.CLOSING_SUFFIX;
        if (!(ctx.channel() instanceof io.netty.channel.socket.DuplexChannel duplex)) {
            s.goodbye(line);
            return;
        }
        // The client is still sending: a close with its data unread would reset the connection, and a reset can
        // destroy the reply before the client reads it. So: the reply, then our half closed (FIN), the rest read and
        // dropped by the framer for a moment, then the close.
        s.enterClosed();
        ctx.writeAndFlush(ByteBufUtil.writeUtf8(ctx.alloc(), line + "\r\n")).addListener(f -> {
            if (f.isSuccess()) {
                duplex.shutdownOutput();
            } else {
                ctx.close();
            }
        });
        ScheduledFuture<?> linger = ctx.executor().schedule(() -> {
            ctx.close();
        }, ABANDON_LINGER_MILLIS, TimeUnit.MILLISECONDS);
        ctx.channel().closeFuture().addListener(f -> linger.cancel(false));
        s.decoder.resume(); // keeps reading (and dropping) until the close
    }

    /** The client's CRLF.CRLF: the final reply, from the sink, or the refusal of a message given up. */
    static void end(SmtpSession s, DataEnd end) {
        Transaction t = s.tx();
        if (t == null) {
            s.state(s.state() == SmtpState.DATA ? SmtpState.READY : s.state());
            return;
        }
        if (t.abortReply != null || end.outcome() != DataOutcome.COMPLETE) {
            SmtpReply reply = t.abortReply != null ? t.abortReply : SmtpReplies.ABORTED;
            s.count("aborted");
            s.endTransaction();
            s.state(SmtpState.READY);
            s.send(reply.encode());
            s.stopIfShuttingDown();
            return;
        }
        ByteBuf rest = t.rewriter != null ? t.rewriter.finish(s.ctx().alloc()) : null;
        if (rest != null && !rest.isReadable()) {
            rest.release();
            rest = null;
        }
        t.phase = Phase.AWAITING_FINAL;
        s.decoder.pause();
        t.sink.end(rest, end.size(), r -> {
            t.phase = Phase.DONE;
            s.endTransaction();
            s.state(SmtpState.READY);
            s.send(r.encode());
            s.stopIfShuttingDown();
        });
    }
}
