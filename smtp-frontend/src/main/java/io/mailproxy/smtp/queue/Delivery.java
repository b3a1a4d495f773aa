package io.mailproxy.smtp.queue;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.queue.AttemptResult.Hold;
import io.mailproxy.smtp.upstream.UpstreamTransaction;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One delivery attempt over a connection leased from the account's SMTP pool: MAIL, each RCPT, DATA, the stored
 * message streamed from the spool as it is (already dot-stuffed), the final dot. Commands go one at a time; the
 * file is read on the blocking executor and written as the upstream becomes writable.
 */
final class Delivery implements Attempt {

    private static final Logger log = LoggerFactory.getLogger(Delivery.class);
    private static final int CHUNK = 64 * 1024;

    private final UpstreamPools pools;
    private final Function<String, Optional<AccountConfig>> accounts;
    private final Spool spool;
    private final Executor blocking;
    private final Duration replyTimeout;

    Delivery(UpstreamPools pools, Function<String, Optional<AccountConfig>> accounts, Spool spool, Executor blocking,
             Duration replyTimeout) {
        this.pools = pools;
        this.accounts = accounts;
        this.spool = spool;
        this.blocking = blocking;
        this.replyTimeout = replyTimeout;
    }

    @Override
    public CompletableFuture<AttemptResult> deliver(Envelope env, List<String> recipients) {
        Optional<AccountConfig> account = accounts.apply(env.account());
        if (account.isEmpty()) {
            return CompletableFuture.completedFuture(AttemptResult.held(Hold.CONNECTION,
                    "account " + env.account() + " is not in the configuration"));
        }
        CompletableFuture<AttemptResult> result = new CompletableFuture<>();
        pools.acquire(account.get(), Protocol.SMTP).whenComplete((lease, failure) -> {
            if (failure != null || lease == null) {
                result.complete(acquireFailed(failure));
                return;
            }
            try {
                new Run(lease, env, recipients, result).start();
            } catch (RuntimeException e) {
                lease.discard();
                result.complete(AttemptResult.held(Hold.CONNECTION, e.toString()));
            }
        });
        return result;
    }

    private static AttemptResult acquireFailed(Throwable failure) {
        Throwable t = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (t instanceof UpstreamException ue) {
            String said = ue.upstreamReply().orElse(ue.getMessage());
            if (ue.kind() == UpstreamException.Kind.QUOTA) {
                return AttemptResult.held(Hold.QUOTA, said);
            }
            if (ue.kind() == UpstreamException.Kind.THROTTLED && said.matches("(?s).*5\\.2\\.25[1-5].*")) {
                return AttemptResult.held(Hold.THROTTLED, said);
            }
            return AttemptResult.held(Hold.CONNECTION, ue.kind() + ": " + said);
        }
        return AttemptResult.held(Hold.CONNECTION, String.valueOf(t));
    }

    /** One attempt's progress; everything after {@link #start()} runs on the upstream channel's event loop. */
    private final class Run implements UpstreamTransaction.Events {
        private final Lease lease;
        private final Envelope env;
        private final List<String> recipients;
        private final CompletableFuture<AttemptResult> result;
        private final EventLoop loop;
        private UpstreamTransaction up;
        private final Set<String> accepted = new LinkedHashSet<>();
        private final Map<String, String> permanent = new HashMap<>();
        private Hold hold = Hold.NONE;
        private String last = "";
        private int next;
        private FileChannel file;
        private long position;
        private boolean waitingWritable;
        private boolean streamed;

        Run(Lease lease, Envelope env, List<String> recipients, CompletableFuture<AttemptResult> result) {
            this.lease = lease;
            this.env = env;
            this.recipients = recipients;
            this.result = result;
            this.loop = lease.session().channel().eventLoop();
        }

        void start() {
            loop.execute(() -> {
                up = UpstreamTransaction.attach(lease, loop, this, replyTimeout, "queue " + env.id(), env.account());
                StringBuilder mail = new StringBuilder("MAIL FROM:<").append(env.mailFrom()).append('>');
                if (up.has("SIZE")) {
                    mail.append(" SIZE=").append(env.size());
                }
                for (String p : env.parameters()) {
                    if (p.equals("SMTPUTF8")) {
                        if (!up.has("SMTPUTF8")) {
                            finishAll(SmtpReply.of(553, "5.6.7 The upstream server does not support SMTPUTF8"));
                            return;
                        }
                        mail.append(" SMTPUTF8");
                    } else if (p.startsWith("BODY=") && up.has("8BITMIME")) {
                        mail.append(' ').append(p);
                    }
                }
                up.command(mail.toString(), this::onMail);
            });
        }

        private void onMail(SmtpReply r) {
            if (!r.positive()) {
                finishAll(r);
                return;
            }
            next = 0;
            sendRcpt();
        }

        private void sendRcpt() {
            if (next == recipients.size()) {
                if (accepted.isEmpty()) {
                    end(false);
                    return;
                }
                up.command("DATA", this::onData);
                return;
            }
            String rcpt = recipients.get(next++);
            up.command("RCPT TO:<" + rcpt + ">", r -> {
                if (r == UpstreamTransaction.LOST) {
                    lostNow(r);
                    return;
                }
                Outcome o = Outcome.of(r);
                switch (o) {
                    case OK -> accepted.add(rcpt);
                    case PERMANENT -> permanent.put(rcpt, r.oneLine());
                    case QUOTA, THROTTLED -> {
                        noteHold(o, r);
                        last = r.oneLine();
                        end(false); // no point in going on
                        return;
                    }
                    default -> last = r.oneLine();
                }
                sendRcpt();
            });
        }

        private void onData(SmtpReply r) {
            if (r.code() != 354) {
                if (r.positive()) {
                    // a 2xx to DATA accepts no message (none was sent): never count it as delivered
                    log.warn("queue: upstream answered DATA for {} with {} instead of 354; closing that connection",
                            env.id(), r.oneLine());
                    up.discard();
                    done(new AttemptResult(Set.of(), permanent, hold, "upstream answered DATA with " + r.oneLine()));
                    return;
                }
                finishAccepted(r);
                return;
            }
            try {
                file = spool.openMessage(env.id());
            } catch (IOException e) {
                log.error("queue: cannot read message {} from the spool: {}", env.id(), e.toString());
                up.discard();
                done(AttemptResult.temporary("spool read failed: " + e));
                return;
            }
            readNext();
        }

        /** Reads the next chunk off the event loop, then writes it on the loop. */
        private void readNext() {
            try {
                readNextChunk();
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // a saturated executor must not leave the attempt unfinished (its message would stay in flight)
                log.warn("queue: the blocking executor refused reading message {} ({}); the attempt ends without the"
                        + " final dot and is tried again later", env.id(), e.toString());
                closeFile();
                up.discard();
                done(new AttemptResult(Set.of(), permanent, hold, "spool read refused by a busy executor"));
            }
        }

        private void readNextChunk() {
            blocking.execute(() -> {
                ByteBuf buf = lease.session().channel().alloc().buffer(CHUNK);
                try {
                    int n = buf.writeBytes(file, position, CHUNK);
                    if (n > 0) {
                        position += n;
                    }
                    ByteBuf chunk = buf;
                    buf = null;
                    try {
                        loop.execute(() -> onChunk(chunk, n));
                    } catch (java.util.concurrent.RejectedExecutionException e) {
                        chunk.release(); // the event loop is gone (shutdown): the attempt ends with the channel
                    }
                } catch (IOException e) {
                    loop.execute(() -> {
                        log.error("queue: reading message {} failed: {}", env.id(), e.toString());
                        up.discard(); // never the final dot
                        done(AttemptResult.temporary("spool read failed: " + e));
                    });
                } finally {
                    if (buf != null) {
                        buf.release();
                    }
                }
            });
        }

        private void onChunk(ByteBuf chunk, int n) {
            if (up.isFinished()) {
                chunk.release();
                return;
            }
            if (n <= 0) {
                chunk.release();
                streamed = true;
                closeFile();
                up.endData(this::finishAccepted);
                return;
            }
            up.data(chunk);
            if (up.writable()) {
                readNext();
            } else {
                waitingWritable = true;
            }
        }

        @Override
        public void writable() {
            if (waitingWritable) {
                waitingWritable = false;
                readNext();
            }
        }

        @Override
        public void lost(String reason) {
            // pending commands got LOST already; one still streaming ends here
            if (file != null && !streamed) {
                lostNow(UpstreamTransaction.LOST);
            }
        }

        private void lostNow(SmtpReply r) {
            closeFile();
            hold = hold == Hold.NONE ? Hold.CONNECTION : hold;
            done(new AttemptResult(Set.of(), permanent, hold, "upstream connection lost: " + r.oneLine()));
        }

        /** MAIL (or the SMTPUTF8 check) failed: the reply applies to every recipient of this attempt. */
        private void finishAll(SmtpReply r) {
            if (r == UpstreamTransaction.LOST) {
                lostNow(r);
                return;
            }
            Outcome o = Outcome.of(r);
            noteHold(o, r);
            last = r.oneLine();
            if (o == Outcome.PERMANENT) {
                recipients.forEach(rc -> permanent.put(rc, r.oneLine()));
            }
            end(false);
        }

        /** DATA or the final dot answered: the reply applies to the recipients the upstream accepted. */
        private void finishAccepted(SmtpReply r) {
            if (r == UpstreamTransaction.LOST) {
                lostNow(r);
                return;
            }
            Outcome o = Outcome.of(r);
            last = r.oneLine();
            Set<String> delivered = Set.of();
            if (o == Outcome.OK && r.code() / 100 != 2) {
                // a 3xx to the final dot is no acceptance: the message goes again later
                up.discard();
                closeFile();
                done(new AttemptResult(Set.of(), permanent, hold, "upstream answered the final dot with " + last));
                return;
            }
            if (o == Outcome.OK) {
                delivered = Set.copyOf(accepted);
            } else if (o == Outcome.PERMANENT) {
                accepted.forEach(rc -> permanent.put(rc, r.oneLine()));
            } else {
                noteHold(o, r);
            }
            closeFile();
            up.release();
            done(new AttemptResult(delivered, permanent, hold, last));
        }

        private void noteHold(Outcome o, SmtpReply r) {
            if (o == Outcome.QUOTA) {
                hold = Hold.QUOTA;
            } else if (o == Outcome.THROTTLED) {
                hold = Hold.THROTTLED;
                lease.reportThrottled();
            } else if (r.code() == 432) {
                lease.reportThrottled();
            }
        }

        private void end(boolean dirty) {
            closeFile();
            if (dirty) {
                up.discard();
            } else {
                up.release();
            }
            if (last.isEmpty() && !permanent.isEmpty()) {
                last = permanent.values().iterator().next();
            }
            done(new AttemptResult(Set.of(), permanent, hold, last));
        }

        /**
         * The result goes to the worker only once the lease is back in the pool: the worker's next attempt for the
         * account then finds this connection (being reset) instead of making the pool open another one.
         */
        private void done(AttemptResult r) {
            if (up != null && up.isFinished()) {
                up.returned().whenComplete((v, e) -> result.complete(r));
            } else {
                result.complete(r);
            }
        }

        private void closeFile() {
            if (file != null) {
                try {
                    file.close();
                } catch (IOException e) {
                    log.debug("closing spool file: {}", e.toString());
                }
            }
        }
    }
}
