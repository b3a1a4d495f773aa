package io.mailproxy.smtp.queue;

import io.mailproxy.core.config.AccountConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries one claimed message through its attempt: writes its state first (attempt count, next attempt should the
 * process die), sends it, applies the result's {@link Verdict} and writes it, bounces the failures (once) and
 * removes the finished message, then releases its claim and pumps. File I/O runs here, on the blocking executor.
 *
 * <p>Its state lives in the {@link Backlog}, guarded by {@code lock}, the worker's monitor.
 */
final class Courier {

    /** The worker's log lines, under the worker's name as before. */
    private static final Logger log = LoggerFactory.getLogger(DeliveryWorker.class);

    private final Object lock;
    private final Backlog backlog;
    private final Handoff handoff;
    private final Runnable pump;
    private final Spool spool;
    private final QueueSettings settings;
    private final Attempt attempt;
    private final Function<String, Optional<AccountConfig>> accounts;
    private final Clock clock;
    private final Backoff backoff;
    private final String reportingMta;
    private final int headerLimit;

    private final Counter deliveries;
    private final Counter retries;
    private final Counter deferrals;
    private final Counter bounces;

    /** @param pump the worker's pump, run when an attempt is over */
    Courier(Object lock, Backlog backlog, Handoff handoff, Runnable pump, Spool spool, QueueSettings settings,
            Attempt attempt, Function<String, Optional<AccountConfig>> accounts, Clock clock, Backoff backoff,
            String reportingMta, int headerLimit, MeterRegistry meters) {
        this.lock = lock;
        this.backlog = backlog;
        this.handoff = handoff;
        this.pump = pump;
        this.spool = spool;
        this.settings = settings;
        this.attempt = attempt;
        this.accounts = accounts;
        this.clock = clock;
        this.backoff = backoff;
        this.reportingMta = reportingMta;
        this.headerLimit = headerLimit;
        this.deliveries = Counter.builder("mailproxy.smtp.queue.deliveries")
                .description("queued messages delivered to every recipient that did not fail").register(meters);
        this.retries = Counter.builder("mailproxy.smtp.queue.retries")
                .description("delivery attempts that failed temporarily and were rescheduled").register(meters);
        this.deferrals = Counter.builder("mailproxy.smtp.queue.deferrals")
                .description("account queues deferred (quota) or paused (throttling, upstream down)").register(meters);
        this.bounces = Counter.builder("mailproxy.smtp.queue.bounces")
                .description("bounces (delivery status notifications) queued").register(meters);
    }

    /** Hands the attempt on {@code e} (claimed) to the blocking executor. */
    void begin(QueueEntry e) {
        handoff.execute(() -> {
            try {
                attemptNow(e);
            } catch (RuntimeException ex) {
                // never leave the message marked in flight: it would stall, and its account's queue with it
                log.error("queue: attempt for {} failed before it was sent; trying again later", e.env.id(), ex);
                backOff(e, clock.instant());
                done(e);
            }
        }, () -> done(e), false);
    }

    private void attemptNow(QueueEntry e) {
        Instant now = clock.instant();
        List<String> pending;
        DeliveryState before;
        synchronized (lock) {
            pending = e.pending();
            DeliveryState s = e.state;
            // should the process die during the attempt, the message is tried again after this back-off
            before = new DeliveryState(s.attempts() + 1, now.plus(backoff.delay(s.attempts() + 1)), s.lastReply(),
                    s.delivered(), s.failed(), s.bounced(), s.draft());
        }
        if (pending.isEmpty()) {
            // every recipient delivered or failed, but removing it failed earlier: only that is tried again
            finish(e);
            done(e);
            return;
        }
        try {
            spool.writeState(e.env.id(), before);
        } catch (IOException | RuntimeException ex) {
            Instant next = backOff(e, now);
            log.error("queue: cannot record the attempt for {} ({}); not sending it now, trying again at {}",
                    e.env.id(), ex, next);
            done(e);
            return;
        }
        synchronized (lock) {
            e.diskFailures = 0;
            backlog.reposition(e, before);
        }
        CompletableFuture<AttemptResult> result;
        try {
            result = attempt.deliver(e.env, pending, progress(e));
        } catch (RuntimeException ex) {
            result = CompletableFuture.completedFuture(AttemptResult.held(AttemptResult.Hold.CONNECTION, ex.toString()));
        }
        result.whenComplete((r, failure) -> {
            AttemptResult outcome = r != null ? r
                    : AttemptResult.held(AttemptResult.Hold.CONNECTION, String.valueOf(failure));
            // the result is recorded even if the executor refuses it for a while: it is kept and submitted again
            handoff.execute(() -> completed(e, outcome), () -> done(e), true);
        });
    }

    /** Where an attempt keeps what must outlive it (a Graph draft's id): the message's state file, written at once. */
    private Attempt.Progress progress(QueueEntry e) {
        return new Attempt.Progress() {
            @Override
            public Optional<String> draft() {
                synchronized (lock) {
                    return e.state.draft();
                }
            }

            @Override
            public void draft(Optional<String> id) throws IOException {
                DeliveryState s;
                synchronized (lock) {
                    s = e.state.withDraft(id);
                }
                spool.writeState(e.env.id(), s);
                synchronized (lock) {
                    backlog.reposition(e, s);
                }
            }
        };
    }

    /** The message's next try after a failure to write it to disk, backing off further each time. Returns when. */
    Instant backOff(QueueEntry e, Instant now) {
        synchronized (lock) {
            e.diskFailures++;
            Instant next = now.plus(backoff.delay(e.diskFailures));
            backlog.reposition(e, e.state.withNext(next));
            return next;
        }
    }

    /** The attempt (or the try to finish) is over: the message and its account may go again. */
    void done(QueueEntry e) {
        synchronized (lock) {
            if (!backlog.release(e)) {
                return;
            }
            lock.notifyAll(); // close() may be waiting for the attempts in flight
        }
        pump.run();
    }

    private void completed(QueueEntry e, AttemptResult r) {
        try {
            record(e, r);
        } catch (RuntimeException ex) {
            log.error("queue: recording the result for {} failed; the message stays queued", e.env.id(), ex);
            backOff(e, clock.instant());
        } finally {
            done(e);
        }
    }

    /** Applies the attempt's {@link Verdict} to the message and its account, and writes the message's state. */
    private void record(QueueEntry e, AttemptResult r) {
        Instant now = clock.instant();
        Verdict v;
        synchronized (lock) {
            AccountQueue q = backlog.queue(e.env.account());
            v = Verdict.of(e.env, e.state, r, now, q.connectionFailures, settings, backoff);
            q.connectionFailures = v.connectionFailures();
            if (v.holdUntil() != null) {
                q.hold(r.hold(), v.holdUntil(), v.holdWhy(), r.lastReply());
                deferrals.increment();
            }
            if (v.expired()) {
                log.warn("queue: message {} gave up after {} ({} attempt(s)); last: {}", e.env.id(), settings.maxAge(),
                        e.state.attempts(), r.lastReply());
            }
            if (v.retried()) {
                retries.increment();
                log.info("queue: message {} for {} recipient(s) deferred after attempt {}: {}; next at {}", e.env.id(),
                        v.pending().size(), e.state.attempts(), r.lastReply(), v.after().nextAttempt());
            }
            if (!r.delivered().isEmpty()) {
                log.info("queue: message {} delivered to {} recipient(s) by the upstream: {}", e.env.id(),
                        r.delivered().size(), r.lastReply());
            }
        }
        DeliveryState after = v.after();
        if (v.finished() && after.failed().isEmpty()) {
            synchronized (lock) {
                backlog.reposition(e, after);
            }
            finish(e); // retiring the envelope is the record of delivery
        } else {
            try {
                spool.writeState(e.env.id(), after);
            } catch (IOException | RuntimeException ex) {
                // the result stands in memory (nobody is sent it twice while the daemon runs); the next attempt's
                // state write records it, as does the bounce
                log.error("queue: cannot record the result for {}: {}", e.env.id(), ex.toString());
            }
            synchronized (lock) {
                backlog.reposition(e, after);
            }
            if (v.finished()) {
                finish(e);
            }
        }
    }

    /** Every recipient delivered or failed: bounce the failures (once), then remove the message. Blocking. */
    void finish(QueueEntry e) {
        DeliveryState s;
        synchronized (lock) {
            s = e.state;
        }
        if (!s.failed().isEmpty() && !s.bounced()) {
            log.warn("queue: message {} from <{}> failed permanently for {}", e.env.id(), e.env.clientFrom(), s.failed());
            bounce(e.env, s.failed());
            s = new DeliveryState(s.attempts(), s.nextAttempt(), s.lastReply(), s.delivered(), s.failed(), true, s.draft());
            synchronized (lock) {
                backlog.reposition(e, s); // bounced once, even if removing the message must be tried again
            }
            try {
                spool.writeState(e.env.id(), s);
            } catch (IOException | RuntimeException ex) {
                log.error("queue: cannot record the bounce for {}: {}", e.env.id(), ex.toString());
            }
        }
        try {
            spool.retire(e.env.id());
        } catch (IOException | RuntimeException ex) {
            // left in the queue with nothing to send: only its removal is tried again, after a back-off
            Instant next = backOff(e, clock.instant());
            log.error("queue: cannot remove the finished message {} ({}); trying again at {}", e.env.id(), ex, next);
            return;
        }
        if (!s.delivered().isEmpty()) {
            deliveries.increment();
        }
        synchronized (lock) {
            backlog.remove(e);
        }
    }

    private void bounce(Envelope env, Map<String, String> failed) {
        if (Bounce.isBounce(env)) {
            log.warn("queue: message {} is itself a bounce (from <>): no bounce for it", env.id());
            return;
        }
        List<String> to = Bounce.recipients(env, settings.bounceToAdmin(), settings.bounceToSender());
        if (to.isEmpty()) {
            log.warn("queue: no bounce for message {}: set mailproxy.smtp.queue.bounce-to-admin or bounce-to-sender",
                    env.id());
            return;
        }
        Optional<AccountConfig> account = accounts.apply(env.account());
        String from = account.map(AccountConfig::from).orElse(env.account());
        try {
            byte[] dsn;
            try (var original = spool.messageStream(env.id())) {
                dsn = Bounce.build(env, failed, to, from, reportingMta, original, headerLimit, clock.instant());
            }
            // Sent from the account itself, not the null sender RFC 3464 prefers for MTAs: Office 365's client
            // submission takes mail from the authenticated mailbox (a null MAIL FROM is not what it accepts from a
            // submitting client), and loops are prevented by Auto-Submitted and by never bouncing a -DSN message.
            Envelope bounceEnv = spool.store(env.id() + "-DSN", env.account(), from, to, dsn);
            bounces.increment();
            log.info("queue: bounce {} for message {} queued to {}", bounceEnv.id(), env.id(), to);
            synchronized (lock) {
                if (!backlog.contains(bounceEnv.id())) {
                    backlog.add(bounceEnv, DeliveryState.initial(bounceEnv.received()));
                }
            }
        } catch (IOException ex) {
            log.error("queue: cannot queue the bounce for {}: {}", env.id(), ex.toString());
        }
    }
}
