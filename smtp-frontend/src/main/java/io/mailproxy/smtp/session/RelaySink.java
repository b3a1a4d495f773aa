package io.mailproxy.smtp.session;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.smtp.codec.MailArguments;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.rewrite.SenderRewriter;
import io.mailproxy.smtp.session.Transaction.Phase;
import io.mailproxy.smtp.upstream.UpstreamTransaction;
import io.netty.buffer.ByteBuf;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pass-through: the transaction goes over a connection leased from the account's SMTP pool, and every reply is the
 * upstream's (DESIGN rule 5: {@code 250} to the final dot only after the upstream's {@code 250}).
 */
final class RelaySink implements MessageSink {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);
    /** Longest wait for the previous transaction's lease before the next MAIL asks the pool anyway. */
    private static final long PREVIOUS_LEASE_WAIT_MILLIS = 10_000;

    private final Transaction t;
    private final Events events;
    private final CoreServices services;
    private final SmtpSettings settings;
    private final boolean rewrite;
    private final CompletableFuture<Void> previousLease;
    /** Completes once this transaction's lease (if it got one) has ended and the pool has it back. */
    private final CompletableFuture<Void> leaseBack = new CompletableFuture<>();
    private UpstreamTransaction up;

    /**
     * @param previousLease completes once the session's previous relayed transaction has its lease back in the pool
     * @param rewrite       the envelope sender becomes the account's address
     */
    RelaySink(Transaction t, Events events, CoreServices services, SmtpSettings settings, boolean rewrite,
              CompletableFuture<Void> previousLease) {
        this.t = t;
        this.events = events;
        this.services = services;
        this.settings = settings;
        this.rewrite = rewrite;
        this.previousLease = previousLease;
    }

    /** Completes once this transaction's lease is back in the pool (or there never was one). */
    CompletableFuture<Void> leaseBack() {
        return leaseBack;
    }

    @Override
    public void mail(Consumer<SmtpReply> reply) {
        events.pause();
        if (previousLease.isDone()) {
            acquire(reply);
            return;
        }
        // Bounded, so a lease whose return got lost (an event loop gone at shutdown) cannot stall the session: a
        // return takes one RSET round trip, so a few seconds is long, and well inside a client's MAIL timeout.
        CompletableFuture<Void> go = new CompletableFuture<>();
        go.thenRun(() -> acquire(reply));
        long boundMillis = Math.min(settings.upstreamReplyTimeout().toMillis(), PREVIOUS_LEASE_WAIT_MILLIS);
        ScheduledFuture<?> bound = events.loop().schedule(() -> {
            if (!go.isDone()) {
                log.debug("[{}] the previous upstream connection is not back in the pool yet; acquiring anyway",
                        events.sid());
                go.complete(null);
            }
        }, boundMillis, TimeUnit.MILLISECONDS);
        previousLease.whenComplete((v, e) -> events.onLoop(() -> {
            bound.cancel(false);
            go.complete(null);
        }));
    }

    /** Asks the pool for the transaction's connection, once. */
    private void acquire(Consumer<SmtpReply> reply) {
        if (t.phase != Phase.STARTING || !events.current()) {
            leaseBack.complete(null);
            return;
        }
        t.phase = Phase.ACQUIRING;
        services.pools().acquire(t.account, Protocol.SMTP).whenComplete((lease, failure) -> {
            try {
                events.loop().execute(() -> leased(lease, failure, reply)); // every reply it sends is flushed
            } catch (RejectedExecutionException e) {
                if (lease != null) {
                    lease.releaseUnused();
                }
                leaseBack.complete(null);
            }
        });
    }

    private void leased(Lease lease, Throwable failure, Consumer<SmtpReply> reply) {
        if (t.phase == Phase.CANCELLED || !events.current()) {
            if (lease != null) {
                lease.releaseUnused(); // nothing went upstream on it
            }
            leaseBack.complete(null);
            return;
        }
        t.phase = Phase.OPEN;
        if (failure != null || lease == null) {
            leaseBack.complete(null);
            reply.accept(unavailable(t.account, SmtpSession.unwrap(failure)));
            events.resume();
            return;
        }
        up = UpstreamTransaction.attach(lease, events.loop(), new Upstream(), settings.upstreamReplyTimeout(),
                events.sid(), t.account.name());
        up.returned().whenComplete((v, e) -> leaseBack.complete(null));
        MailArguments args = t.mail;
        if (args.parameters().containsKey("SMTPUTF8") && !up.has("SMTPUTF8")) {
            up.release();
            reply.accept(SmtpReplies.UPSTREAM_NO_SMTPUTF8);
            events.resume();
            return;
        }
        up.command(mailLine(args), r -> {
            if (!events.current()) {
                return;
            }
            if (!r.positive()) {
                log.info("[{}] upstream refused MAIL FROM:<{}>: {}", events.sid(), args.address(), r.oneLine());
            }
            reply.accept(r);
            events.resume();
        });
        events.resume();
    }

    /** The upstream MAIL: the (rewritten) sender and what of the client's parameters the upstream takes. */
    private String mailLine(MailArguments args) {
        StringBuilder line = new StringBuilder("MAIL FROM:<")
                .append(rewrite ? t.account.from() : args.address()).append('>');
        String size = args.parameters().get("SIZE");
        if (size != null && up.has("SIZE")) {
            long declared = Long.parseLong(size);
            if (rewrite) {
                declared += SenderRewriter.sizeGrowth(t.account.from(), settings.headerLimit());
            }
            line.append(" SIZE=").append(declared);
        }
        String body = args.parameters().get("BODY");
        if (body != null && up.has("8BITMIME")) {
            line.append(" BODY=").append(body.toUpperCase(java.util.Locale.ROOT));
        }
        if (args.parameters().containsKey("SMTPUTF8")) {
            line.append(" SMTPUTF8");
        }
        return line.toString();
    }

    /** The reply to a MAIL that got no upstream connection. */
    private SmtpReply unavailable(AccountConfig account, Throwable failure) {
        UpstreamException.Kind kind = failure instanceof UpstreamException ue ? ue.kind() : null;
        String upstreamText = failure instanceof UpstreamException ue ? ue.upstreamReply().orElse(null) : null;
        log.warn("[{}] no upstream SMTP connection for account {}: {}", events.sid(), account.name(),
                String.valueOf(failure));
        SmtpReply upstreamReply = upstreamText != null && upstreamText.matches("[45]\\d\\d[ -].*")
                ? SmtpReply.of(Integer.parseInt(upstreamText.substring(0, 3)), upstreamText.substring(4)) : null;
        if (upstreamReply != null) {
            // 5.7.139, 5.7.30 at login, 432 4.3.2, 554 5.2.0, 550 5.2.25x: say what the administrator must change
            UpstreamTransaction.explain(upstreamReply, account.name()).ifPresent(hint ->
                    log.warn("[{}] upstream replied {}: {}", events.sid(), upstreamReply.oneLine(), hint));
            if (kind == UpstreamException.Kind.THROTTLED || kind == UpstreamException.Kind.QUOTA) {
                return upstreamReply; // Office 365's own reply reaches the client with its text
            }
        }
        if (kind == UpstreamException.Kind.LIMIT_REACHED || kind == UpstreamException.Kind.THROTTLED
                || kind == UpstreamException.Kind.QUOTA) {
            return SmtpReplies.UPSTREAM_BUSY;
        }
        if (kind == UpstreamException.Kind.TLS_FAILURE || kind == UpstreamException.Kind.CREDENTIALS_REJECTED
                || kind == UpstreamException.Kind.CREDENTIALS_UNAVAILABLE) {
            return SmtpReplies.UPSTREAM_LOGIN_FAILED;
        }
        return SmtpReplies.UPSTREAM_UNAVAILABLE;
    }

    @Override
    public void rcpt(String address, Consumer<SmtpReply> reply) {
        up.command("RCPT TO:<" + address + ">", r -> {
            if (!events.current()) {
                return;
            }
            if (!r.positive() && r != UpstreamTransaction.LOST) {
                log.info("[{}] upstream refused RCPT TO:<{}>: {}", events.sid(), address, r.oneLine());
            }
            reply.accept(r);
            events.resume();
        });
    }

    @Override
    public void inOrder(SmtpReply local, Consumer<SmtpReply> reply) {
        if (up == null || up.outstanding() == 0) {
            reply.accept(local);
            return;
        }
        up.reply(local, r -> {
            if (!events.current()) {
                return;
            }
            reply.accept(r);
            events.resume();
        });
    }

    @Override
    public void data(Consumer<SmtpReply> reply) {
        up.command("DATA", r -> {
            if (!events.current()) {
                return;
            }
            SmtpReply answer = r;
            if (r.code() != 354 && r.positive()) {
                // Only 354 lets the message through; a 2xx here is no acceptance of a message the upstream never
                // got, and must not reach the client as one (DESIGN rule 5). That connection is not reused.
                log.warn("[{}] upstream answered DATA with {} instead of 354; closing that connection", events.sid(),
                        r.oneLine());
                up.discard();
                answer = UpstreamTransaction.LOST;
            } else if (r.code() != 354 && r != UpstreamTransaction.LOST) {
                log.info("[{}] upstream refused DATA: {}", events.sid(), r.oneLine());
            }
            reply.accept(answer);
            events.resume();
        });
    }

    @Override
    public boolean accepting() {
        return up != null && !up.isFinished();
    }

    @Override
    public void write(ByteBuf bytes) {
        if (bytes.isReadable()) {
            up.data(bytes);
        } else {
            bytes.release();
        }
        if (!up.writable()) {
            t.backpressure = true;
            events.pause();
        }
    }

    @Override
    public void end(ByteBuf rest, long size, Consumer<SmtpReply> reply) {
        if (rest != null) {
            up.data(rest);
        }
        up.endData(r -> {
            if (!events.current()) {
                return;
            }
            SmtpReply answer = r;
            if (r.positive() && r.code() / 100 != 2) {
                // a 3xx to the final dot accepts nothing; the connection is in an unknown state
                log.warn("[{}] upstream answered the final dot with {}; closing that connection", events.sid(),
                        r.oneLine());
                up.discard();
                answer = UpstreamTransaction.LOST;
            }
            events.count(answer.code() == 250 ? "accepted" : answer == UpstreamTransaction.LOST ? "upstream-lost"
                    : "refused");
            if (answer.code() == 250) {
                log.info("[{}] message of {} octets for {} recipient(s) accepted by the upstream: {}", events.sid(),
                        size, t.accepted.size(), answer.oneLine());
            } else if (answer != UpstreamTransaction.LOST) {
                log.info("[{}] upstream refused the message: {}", events.sid(), answer.oneLine());
            }
            reply.accept(answer);
            events.resume();
        });
    }

    @Override
    public void drop() {
        if (up != null) {
            up.discard(); // never the final dot: the upstream drops what it got
        }
    }

    @Override
    public int outstanding() {
        return up == null ? 0 : up.outstanding();
    }

    @Override
    public boolean pipelining() {
        return up.pipelining();
    }

    @Override
    public void close(boolean inData) {
        if (t.phase.opening()) {
            t.phase = Phase.CANCELLED;
        } else if (up != null) {
            if (up.outstanding() > 0 || inData) {
                up.discard();
            } else {
                up.release();
            }
        }
    }

    @Override
    public void abandon(boolean inData) {
        if (t.phase.opening()) {
            t.phase = Phase.CANCELLED;
        } else if (up != null) {
            boolean awaitingFinal = t.phase == Phase.AWAITING_FINAL;
            // DATA without inData: a refused message the client kept sending, abandoned (the framer stopped reading
            // it): counted as aborted, as the spool counts it
            boolean inMessage = inData || awaitingFinal || t.phase == Phase.DATA;
            if (up.outstanding() > 0 || inMessage) {
                if (inMessage) {
                    events.count("aborted");
                    log.info("[{}] client left in the middle of a message; the upstream connection is closed"
                            + " without the final dot", events.sid());
                }
                up.discard();
            } else {
                up.release();
            }
        }
    }

    /** The upstream connection's own events, for this transaction. */
    private final class Upstream implements UpstreamTransaction.Events {
        @Override
        public void writable() {
            if (events.current() && t.backpressure) {
                t.backpressure = false;
                events.resume();
            }
        }

        @Override
        public void lost(String reason) {
            if (events.current()) {
                events.lost();
            }
        }
    }
}
