package io.mailproxy.smtp.queue;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers the spool's messages, per account: at most {@code connections-per-account} at once, paced by a
 * messages-a-minute and a recipients-a-day token bucket, oldest due first. Temporary failures back off
 * exponentially (with jitter) up to {@code max-age}; the quota reply defers and throttling replies pause the
 * account's whole queue; permanent failures are bounced once (RFC 3464) unless the message is itself a bounce.
 *
 * <p>The coordinator: {@link Backlog} holds the queue ({@link AccountQueue} per account), {@link QueueTimer} wakes
 * the pump, {@link Handoff} hands work to the blocking executor, {@link Verdict} judges each attempt's result. State
 * is guarded by this object's monitor; file I/O and attempts run on the blocking executor, timers on the
 * scheduler. The delivery state is written before each attempt (attempt count, next attempt should it crash) and
 * after it (recipients delivered or failed): a recipient the upstream accepted is never sent again, except when
 * the process dies between the upstream's 250 and that write.
 */
public final class DeliveryWorker implements SmtpQueue, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DeliveryWorker.class);

    private final Spool spool;
    private final QueueSettings settings;
    private final Attempt attempt;
    private final Function<String, Optional<AccountConfig>> accounts;
    private final Clock clock;
    private final Backoff backoff;
    private final String reportingMta;
    private final int headerLimit;

    /** The queue in memory; it, the work {@link #handoff} keeps and the flags below are guarded by this monitor. */
    private final Backlog backlog;
    private final QueueTimer timer;
    private final Handoff handoff;
    private boolean pumping;
    private boolean pumpAgain;
    private boolean closed;

    private final Counter deliveries;
    private final Counter retries;
    private final Counter deferrals;
    private final Counter bounces;

    /**
     * @param attempt      sends one message ({@link #overPool} in the daemon)
     * @param accounts     the current configuration's accounts, by name
     * @param reportingMta host name for bounces
     * @param headerLimit  most octets of the original header block quoted in a bounce
     */
    public DeliveryWorker(Spool spool, QueueSettings settings, Attempt attempt,
                          Function<String, Optional<AccountConfig>> accounts, Clock clock,
                          ScheduledExecutorService scheduler, Executor blocking, MeterRegistry meters,
                          RandomGenerator random, String reportingMta, int headerLimit) {
        this.spool = spool;
        this.settings = settings;
        this.attempt = attempt;
        this.accounts = accounts;
        this.clock = clock;
        this.backoff = new Backoff(settings.initialBackoff(), settings.maxBackoff(), settings.backoffJitter(), random);
        this.reportingMta = reportingMta;
        this.headerLimit = headerLimit;
        this.backlog = new Backlog(settings, clock);
        this.timer = new QueueTimer(scheduler, clock, settings.idlePoll(), this::pump);
        this.handoff = new Handoff(blocking, backoff, clock, timer, this);
        this.deliveries = Counter.builder("mailproxy.smtp.queue.deliveries")
                .description("queued messages delivered to every recipient that did not fail").register(meters);
        this.retries = Counter.builder("mailproxy.smtp.queue.retries")
                .description("delivery attempts that failed temporarily and were rescheduled").register(meters);
        this.deferrals = Counter.builder("mailproxy.smtp.queue.deferrals")
                .description("account queues deferred (quota) or paused (throttling, upstream down)").register(meters);
        this.bounces = Counter.builder("mailproxy.smtp.queue.bounces")
                .description("bounces (delivery status notifications) queued").register(meters);
        Gauge.builder("mailproxy.smtp.queue.depth", this, w -> w.status().depth())
                .description("messages in the store-and-forward queue").register(meters);
        Gauge.builder("mailproxy.smtp.queue.oldest.age", this,
                        w -> w.status().oldestAge().map(d -> d.toMillis() / 1000.0).orElse(0.0))
                .description("age of the oldest queued message").baseUnit("seconds").register(meters);
        spool.onCommitted(this::accepted);
    }

    /** The attempt the daemon uses: a lease from the account's SMTP pool. */
    public static Attempt overPool(io.mailproxy.core.pool.UpstreamPools pools,
                                   Function<String, Optional<AccountConfig>> accounts, Spool spool,
                                   Executor blocking, Duration replyTimeout) {
        return new Delivery(pools, accounts, spool, blocking, replyTimeout);
    }

    /** Resumes what the spool holds (blocking: call off the event loop) and starts delivering. */
    public void start() {
        List<QueueEntry> finished = new ArrayList<>();
        synchronized (this) {
            for (Spool.Stored s : spool.recovered()) {
                // a finished one stays queued should removing it fail (tried again after a back-off)
                QueueEntry e = backlog.add(s.envelope(), s.state());
                if (e.pending().isEmpty()) {
                    finished.add(e); // delivered or failed before a crash, not yet retired
                    backlog.claim(e);
                }
            }
        }
        if (!spool.recovered().isEmpty()) {
            log.info("queue: resuming {} message(s) from {}", spool.recovered().size(), spool.directory());
        }
        for (QueueEntry e : finished) {
            try {
                finish(e);
            } catch (RuntimeException ex) {
                log.error("queue: finishing {} failed; tried again later", e.env.id(), ex);
                backOff(e, clock.instant());
            } finally {
                done(e);
            }
        }
        pump();
    }

    /** A message was committed to the spool (on the blocking executor). */
    private void accepted(Envelope env) {
        synchronized (this) {
            backlog.add(env, DeliveryState.initial(env.received()));
        }
        pump();
    }

    // ---------------------------------------------------------------- scheduling

    /** Starts every attempt that is due and allowed, and sets the timer for the next one. Any thread. */
    public void pump() {
        synchronized (this) {
            if (closed) {
                return;
            }
            if (pumping) {
                pumpAgain = true;
                return;
            }
            pumping = true;
        }
        try {
            while (true) {
                List<QueueEntry> starts;
                List<Handoff.Work> again;
                synchronized (this) {
                    pumpAgain = false;
                    again = handoff.takeDue();
                    starts = plan();
                }
                for (Handoff.Work w : again) {
                    handoff.execute(w);
                }
                for (QueueEntry e : starts) {
                    begin(e);
                }
                synchronized (this) {
                    if (!pumpAgain || closed) {
                        break;
                    }
                }
            }
        } finally {
            synchronized (this) {
                pumping = false;
            }
        }
    }

    /** Claims what may start now and arms the timer for the soonest moment more may (the idle poll at the latest). */
    private List<QueueEntry> plan() {
        Instant now = clock.instant();
        List<QueueEntry> starts = new ArrayList<>();
        Instant wake = backlog.plan(now, now.plus(settings.idlePoll()), this::connectionLimit, starts);
        Instant retryAt = handoff.retryAt();
        if (retryAt != null && !wake.isBefore(retryAt)) {
            wake = retryAt;
        }
        timer.arm(wake);
        return starts;
    }

    private int connectionLimit(String account) {
        int max = accounts.apply(account).map(a -> a.pool(Protocol.SMTP).max()).orElse(0);
        return max <= 0 ? settings.connectionsPerAccount() : Math.min(max, settings.connectionsPerAccount());
    }

    // ---------------------------------------------------------------- one attempt

    private void begin(QueueEntry e) {
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
        synchronized (this) {
            pending = e.pending();
            DeliveryState s = e.state;
            // should the process die during the attempt, the message is tried again after this back-off
            before = new DeliveryState(s.attempts() + 1, now.plus(backoff.delay(s.attempts() + 1)), s.lastReply(),
                    s.delivered(), s.failed(), s.bounced());
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
        synchronized (this) {
            e.diskFailures = 0;
            backlog.reposition(e, before);
        }
        CompletableFuture<AttemptResult> result;
        try {
            result = attempt.deliver(e.env, pending);
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

    /** The message's next try after a failure to write it to disk, backing off further each time. Returns when. */
    private synchronized Instant backOff(QueueEntry e, Instant now) {
        e.diskFailures++;
        Instant next = now.plus(backoff.delay(e.diskFailures));
        backlog.reposition(e, e.state.withNext(next));
        return next;
    }

    /** The attempt (or the try to finish) is over: the message and its account may go again. */
    private void done(QueueEntry e) {
        synchronized (this) {
            if (!backlog.release(e)) {
                return;
            }
            notifyAll(); // close() may be waiting for the attempts in flight
        }
        pump();
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
        synchronized (this) {
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
            synchronized (this) {
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
            synchronized (this) {
                backlog.reposition(e, after);
            }
            if (v.finished()) {
                finish(e);
            }
        }
    }

    /** Every recipient delivered or failed: bounce the failures (once), then remove the message. Blocking. */
    private void finish(QueueEntry e) {
        DeliveryState s;
        synchronized (this) {
            s = e.state;
        }
        if (!s.failed().isEmpty() && !s.bounced()) {
            log.warn("queue: message {} from <{}> failed permanently for {}", e.env.id(), e.env.clientFrom(), s.failed());
            bounce(e.env, s.failed());
            s = new DeliveryState(s.attempts(), s.nextAttempt(), s.lastReply(), s.delivered(), s.failed(), true);
            synchronized (this) {
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
        synchronized (this) {
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
            synchronized (this) {
                if (!backlog.contains(bounceEnv.id())) {
                    backlog.add(bounceEnv, DeliveryState.initial(bounceEnv.received()));
                }
            }
        } catch (IOException ex) {
            log.error("queue: cannot queue the bounce for {}: {}", env.id(), ex.toString());
        }
    }

    // ---------------------------------------------------------------- SmtpQueue

    @Override
    public synchronized QueueStatus status() {
        return backlog.status(clock.instant(), spool.usedBytes());
    }

    @Override
    public synchronized List<QueuedMessage> list() {
        return backlog.list();
    }

    @Override
    public int retry(String idOrAll) {
        int n;
        synchronized (this) {
            n = backlog.makeDue(idOrAll, clock.instant());
            if (n == 0 && !idOrAll.equals("all")) {
                throw new IllegalArgumentException("no queued message " + idOrAll);
            }
        }
        log.info("queue: {} message(s) made due now ({} requested it)", n, idOrAll.equals("all") ? "retry all" : "retry");
        pump();
        return n;
    }

    @Override
    public void delete(String id) throws IOException {
        synchronized (this) {
            QueueEntry e = backlog.get(id);
            if (e == null) {
                throw new IllegalArgumentException("no queued message " + id);
            }
            if (e.inFlight) {
                throw new IllegalStateException("message " + id + " is being delivered right now; try again shortly");
            }
            backlog.remove(e);
        }
        spool.retire(id);
        log.info("queue: message {} deleted by the administrator (not delivered, not bounced)", id);
    }

    /**
     * Starts no more attempts and waits (a few seconds at most) for those in flight to record their result, so that
     * a message the upstream has just accepted is not sent again after the restart. The spool keeps every message.
     */
    @Override
    public synchronized void close() {
        closed = true;
        timer.close();
        handoff.close();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (backlog.anyInFlight()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                log.warn("queue: stopping with deliveries still in flight; they are tried again at the next start");
                return;
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
