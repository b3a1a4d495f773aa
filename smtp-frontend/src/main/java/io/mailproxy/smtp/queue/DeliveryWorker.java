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
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
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
 * <p>State is guarded by this object's monitor; file I/O and attempts run on the blocking executor, timers on the
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
    private final ScheduledExecutorService scheduler;
    private final Executor blocking;
    private final Backoff backoff;
    private final String reportingMta;
    private final int headerLimit;

    private final Map<String, Entry> entries = new HashMap<>();
    private final Map<String, AccountQueue> queues = new LinkedHashMap<>();
    private ScheduledFuture<?> timer;
    private Instant timerAt;
    /** Which arming {@link #timer} belongs to: a timer that fires clears it only if it is still its own. */
    private long timerSeq;
    private boolean pumping;
    private boolean pumpAgain;
    private boolean closed;
    /** Work the blocking executor refused (saturated), submitted again from {@link #pump} once {@link #refusedRetryAt}. */
    private final List<Refused> refused = new ArrayList<>();
    private Instant refusedRetryAt;
    /** Consecutive refusals, for the back-off. */
    private int refusals;

    private final Counter deliveries;
    private final Counter retries;
    private final Counter deferrals;
    private final Counter bounces;

    /**
     * Work the executor refused, and what undoes its claim should the worker close before it runs; {@code records}:
     * it records an attempt's result, which must run even then (else a message the upstream accepted is sent again
     * after the restart).
     */
    private record Refused(Runnable task, Runnable onDropped, boolean records) { }

    /** One queued message. */
    private static final class Entry {
        final Envelope env;
        DeliveryState state;
        boolean inFlight;
        /** Consecutive failures to write its state or to remove it once finished (disk full...), for the back-off. */
        int diskFailures;

        Entry(Envelope env, DeliveryState state) {
            this.env = env;
            this.state = state;
        }

        List<String> pending() {
            List<String> p = new ArrayList<>();
            for (String r : env.recipients()) {
                if (!state.delivered().contains(r) && !state.failed().containsKey(r)) {
                    p.add(r);
                }
            }
            return p;
        }
    }

    private static final Comparator<Entry> ORDER = Comparator.comparing((Entry e) -> e.state.nextAttempt())
            .thenComparing(e -> e.env.received()).thenComparing(e -> e.env.id());

    /** One account's queue, pacing and hold. */
    private final class AccountQueue {
        final String name;
        final TreeSet<Entry> due = new TreeSet<>(ORDER);
        final TokenBucket minute;
        final TokenBucket day;
        int inFlight;
        Instant heldUntil;
        String heldWhy;
        int connectionFailures;

        AccountQueue(String name) {
            this.name = name;
            this.minute = new TokenBucket(settings.messagesPerMinute(), Duration.ofMinutes(1), clock);
            this.day = new TokenBucket(settings.recipientsPerDay(), Duration.ofDays(1), clock);
        }

        void hold(Instant until, String why) {
            if (heldUntil == null || until.isAfter(heldUntil)) {
                heldUntil = until;
                heldWhy = why;
            }
        }
    }

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
        this.scheduler = scheduler;
        this.blocking = blocking;
        this.backoff = new Backoff(settings.initialBackoff(), settings.maxBackoff(), settings.backoffJitter(), random);
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
        List<Entry> finished = new ArrayList<>();
        synchronized (this) {
            for (Spool.Stored s : spool.recovered()) {
                Entry e = new Entry(s.envelope(), s.state());
                entries.put(s.envelope().id(), e);
                AccountQueue q = queue(e.env.account());
                q.due.add(e); // a finished one stays there should removing it fail (tried again after a back-off)
                if (e.pending().isEmpty()) {
                    finished.add(e); // delivered or failed before a crash, not yet retired
                    e.inFlight = true;
                    q.inFlight++;
                }
            }
        }
        if (!spool.recovered().isEmpty()) {
            log.info("queue: resuming {} message(s) from {}", spool.recovered().size(), spool.directory());
        }
        for (Entry e : finished) {
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

    private AccountQueue queue(String account) {
        return queues.computeIfAbsent(account, AccountQueue::new);
    }

    /** A message was committed to the spool (on the blocking executor). */
    private void accepted(Envelope env) {
        synchronized (this) {
            Entry e = new Entry(env, DeliveryState.initial(env.received()));
            entries.put(env.id(), e);
            queue(env.account()).due.add(e);
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
                List<Entry> starts;
                List<Refused> again = List.of();
                synchronized (this) {
                    pumpAgain = false;
                    if (!refused.isEmpty() && !clock.instant().isBefore(refusedRetryAt)) {
                        again = new ArrayList<>(refused);
                        refused.clear();
                    }
                    starts = plan();
                }
                for (Refused r : again) {
                    run(r.task(), r.onDropped(), r.records());
                }
                for (Entry e : starts) {
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

    private List<Entry> plan() {
        Instant now = clock.instant();
        Instant wake = now.plus(settings.idlePoll());
        List<Entry> starts = new ArrayList<>();
        for (AccountQueue q : queues.values()) {
            if (q.heldUntil != null) {
                if (now.isBefore(q.heldUntil)) {
                    wake = min(wake, q.heldUntil);
                    continue;
                }
                log.info("queue: account {} resumes ({} ended)", q.name, q.heldWhy);
                q.heldUntil = null;
                q.heldWhy = null;
            }
            int limit = connectionLimit(q.name);
            for (Entry e : q.due) {
                if (q.inFlight >= limit) {
                    break;
                }
                if (e.inFlight) {
                    continue;
                }
                if (e.state.nextAttempt().isAfter(now)) {
                    wake = min(wake, e.state.nextAttempt());
                    break;
                }
                int rcpts = e.pending().size();
                if (rcpts == 0) {
                    // nothing to send, only its removal to try again: no pacing applies
                    e.inFlight = true;
                    q.inFlight++;
                    starts.add(e);
                    continue;
                }
                Duration waitDay = q.day.timeUntil(rcpts);
                Duration waitMinute = q.minute.timeUntil(1);
                if (!waitDay.isZero() || !waitMinute.isZero()) {
                    wake = min(wake, now.plus(waitDay.compareTo(waitMinute) > 0 ? waitDay : waitMinute));
                    break;
                }
                q.minute.tryTake(1);
                q.day.tryTake(rcpts);
                e.inFlight = true;
                q.inFlight++;
                starts.add(e);
            }
        }
        if (!refused.isEmpty()) {
            wake = min(wake, refusedRetryAt);
        }
        arm(wake);
        return starts;
    }

    private int connectionLimit(String account) {
        int max = accounts.apply(account).map(a -> a.pool(Protocol.SMTP).max()).orElse(0);
        return max <= 0 ? settings.connectionsPerAccount() : Math.min(max, settings.connectionsPerAccount());
    }

    private void arm(Instant wake) {
        if (closed || scheduler == null) {
            return;
        }
        if (timer != null && !timer.isDone() && timerAt != null && !timerAt.isAfter(wake)) {
            return;
        }
        if (timer != null) {
            timer.cancel(false);
        }
        Duration until = Duration.between(clock.instant(), wake);
        long delay = until.isNegative() ? 0 : until.plusNanos(999_999).toMillis(); // not before its moment
        long seq = ++timerSeq;
        timerAt = wake;
        try {
            timer = scheduler.schedule(() -> timerFired(seq), delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            timer = null;
            timerAt = null;
        }
    }

    /**
     * The timer armed as {@code seq} runs. While it runs its future is not done, so it lets go of it first: the
     * pump's {@link #arm} must set the next timer (else nothing runs until other mail arrives). A timer armed since
     * (sooner) stays. A timer must never die silently: a failure is logged and the worker looks again after idle-poll.
     */
    private void timerFired(long seq) {
        synchronized (this) {
            if (seq == timerSeq) {
                timer = null;
                timerAt = null;
            }
        }
        try {
            pump();
        } catch (RuntimeException | Error e) {
            log.error("queue: the delivery worker failed; it tries again in {}", settings.idlePoll(), e);
            synchronized (this) {
                arm(clock.instant().plus(settings.idlePoll()));
            }
        }
    }

    private static Instant min(Instant a, Instant b) {
        return a.isBefore(b) ? a : b;
    }

    // ---------------------------------------------------------------- one attempt

    private void begin(Entry e) {
        run(() -> {
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

    private void attemptNow(Entry e) {
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
            reposition(e, before);
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
            run(() -> completed(e, outcome), () -> done(e), true);
        });
    }

    /** The message's next try after a failure to write it to disk, backing off further each time. Returns when. */
    private synchronized Instant backOff(Entry e, Instant now) {
        e.diskFailures++;
        Instant next = now.plus(backoff.delay(e.diskFailures));
        reposition(e, e.state.withNext(next));
        return next;
    }

    /** The attempt (or the try to finish) is over: the message and its account may go again. */
    private void done(Entry e) {
        synchronized (this) {
            if (!e.inFlight) {
                return;
            }
            AccountQueue q = queue(e.env.account());
            q.inFlight--;
            e.inFlight = false;
            notifyAll(); // close() may be waiting for the attempts in flight
        }
        pump();
    }

    private void completed(Entry e, AttemptResult r) {
        try {
            record(e, r);
        } catch (RuntimeException ex) {
            log.error("queue: recording the result for {} failed; the message stays queued", e.env.id(), ex);
            backOff(e, clock.instant());
        } finally {
            done(e);
        }
    }

    private void record(Entry e, AttemptResult r) {
        Instant now = clock.instant();
        boolean finished;
        DeliveryState after;
        synchronized (this) {
            AccountQueue q = queue(e.env.account());
            Set<String> delivered = new LinkedHashSet<>(e.state.delivered());
            delivered.addAll(r.delivered());
            Map<String, String> failed = new LinkedHashMap<>(e.state.failed());
            failed.putAll(r.permanent());
            switch (r.hold()) {
                case QUOTA -> {
                    q.hold(now.plus(settings.quotaDeferral()), "daily recipient quota reached upstream ("
                            + r.lastReply() + ")");
                    deferrals.increment();
                    log.warn("queue: account {} reached the upstream's submission quota; its queue is deferred until {}",
                            q.name, q.heldUntil);
                }
                case THROTTLED -> {
                    q.hold(now.plus(settings.throttlePause()), "throttled upstream (" + r.lastReply() + ")");
                    deferrals.increment();
                    log.warn("queue: account {} is throttled upstream ({}); its queue pauses until {}", q.name,
                            r.lastReply(), q.heldUntil);
                }
                case CONNECTION -> {
                    q.connectionFailures++;
                    q.hold(now.plus(backoff.delay(q.connectionFailures)), "upstream unavailable (" + r.lastReply() + ")");
                    deferrals.increment();
                    log.warn("queue: account {} cannot reach its upstream ({}); next try at {}", q.name, r.lastReply(),
                            q.heldUntil);
                }
                case NONE -> q.connectionFailures = 0;
            }
            List<String> pending = new ArrayList<>();
            for (String rcpt : e.env.recipients()) {
                if (!delivered.contains(rcpt) && !failed.containsKey(rcpt)) {
                    pending.add(rcpt);
                }
            }
            boolean expired = !pending.isEmpty()
                    && Duration.between(e.env.received(), now).compareTo(settings.maxAge()) > 0;
            if (expired) {
                for (String rcpt : pending) {
                    failed.put(rcpt, "4.4.7 Delivery time expired after " + e.state.attempts() + " attempt(s); last: "
                            + r.lastReply());
                }
                pending.clear();
                log.warn("queue: message {} gave up after {} ({} attempt(s)); last: {}", e.env.id(), settings.maxAge(),
                        e.state.attempts(), r.lastReply());
            }
            finished = pending.isEmpty();
            Instant next;
            if (finished) {
                next = now;
            } else if (r.hold() != AttemptResult.Hold.NONE && q.heldUntil != null) {
                next = now; // the account's hold gates it; it keeps its place in the account's queue
            } else {
                next = now.plus(backoff.delay(e.state.attempts()));
                retries.increment();
                log.info("queue: message {} for {} recipient(s) deferred after attempt {}: {}; next at {}", e.env.id(),
                        pending.size(), e.state.attempts(), r.lastReply(), next);
            }
            after = new DeliveryState(e.state.attempts(), next, r.lastReply(), delivered, failed, e.state.bounced());
            if (!r.delivered().isEmpty()) {
                log.info("queue: message {} delivered to {} recipient(s) by the upstream: {}", e.env.id(),
                        r.delivered().size(), r.lastReply());
            }
        }
        if (finished && after.failed().isEmpty()) {
            synchronized (this) {
                reposition(e, after);
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
                reposition(e, after);
            }
            if (finished) {
                finish(e);
            }
        }
    }

    /** Every recipient delivered or failed: bounce the failures (once), then remove the message. Blocking. */
    private void finish(Entry e) {
        DeliveryState s;
        synchronized (this) {
            s = e.state;
        }
        if (!s.failed().isEmpty() && !s.bounced()) {
            log.warn("queue: message {} from <{}> failed permanently for {}", e.env.id(), e.env.clientFrom(), s.failed());
            bounce(e.env, s.failed());
            s = new DeliveryState(s.attempts(), s.nextAttempt(), s.lastReply(), s.delivered(), s.failed(), true);
            synchronized (this) {
                reposition(e, s); // bounced once, even if removing the message must be tried again
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
            entries.remove(e.env.id());
            AccountQueue q = queues.get(e.env.account());
            if (q != null) {
                q.due.remove(e);
            }
        }
    }

    private void bounce(Envelope env, Map<String, String> failed) {
        if (env.mailFrom().isEmpty() || env.id().endsWith("-DSN")) {
            log.warn("queue: message {} is itself a bounce (from <>): no bounce for it", env.id());
            return;
        }
        List<String> to = new ArrayList<>();
        settings.bounceToAdmin().ifPresent(to::add);
        if (settings.bounceToSender() && routable(env.clientFrom()) && !to.contains(env.clientFrom())) {
            to.add(env.clientFrom());
        }
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
                if (!entries.containsKey(bounceEnv.id())) {
                    Entry b = new Entry(bounceEnv, DeliveryState.initial(bounceEnv.received()));
                    entries.put(bounceEnv.id(), b);
                    queue(bounceEnv.account()).due.add(b);
                }
            }
        } catch (IOException ex) {
            log.error("queue: cannot queue the bounce for {}: {}", env.id(), ex.toString());
        }
    }

    /** An address a bounce can reach: a domain with a dot, not a local-only name. */
    static boolean routable(String address) {
        int at = address.lastIndexOf('@');
        if (at <= 0 || at == address.length() - 1) {
            return false;
        }
        String domain = address.substring(at + 1).toLowerCase(java.util.Locale.ROOT);
        return domain.contains(".") && !domain.endsWith(".local") && !domain.endsWith(".localdomain")
                && !domain.endsWith(".lan") && !domain.endsWith(".internal") && !domain.endsWith(".invalid")
                && !domain.endsWith(".home.arpa") && !domain.endsWith(".test");
    }

    private void reposition(Entry e, DeliveryState state) {
        AccountQueue q = queue(e.env.account());
        boolean had = q.due.remove(e);
        e.state = state;
        if (had) {
            q.due.add(e);
        }
    }

    private void run(Runnable task) {
        run(task, () -> { }, false);
    }

    /**
     * Hands {@code task} to the blocking executor. When the executor refuses it (saturated), the task is kept and
     * submitted again from {@link #pump} after a back-off, so no message is dropped or left marked in flight; only
     * once the worker is closed is it dropped ({@code onDropped} runs; the spool keeps the message's state).
     */
    private void run(Runnable task, Runnable onDropped, boolean records) {
        try {
            blocking.execute(task);
        } catch (RejectedExecutionException ex) {
            Instant retryAt;
            int n;
            synchronized (this) {
                if (!closed) {
                    refused.add(new Refused(task, onDropped, records));
                    n = ++refusals;
                    retryAt = clock.instant().plus(backoff.delay(Math.min(n, 8)));
                    refusedRetryAt = retryAt;
                    arm(retryAt);
                } else {
                    retryAt = null;
                    n = 0;
                }
            }
            if (retryAt == null && records) {
                log.debug("queue: worker closed; recording an attempt's result on this thread");
                task.run();
            } else if (retryAt == null) {
                log.debug("queue: worker closed, task dropped (the spool keeps the state)");
                onDropped.run();
            } else if (n == 1) {
                log.warn("queue: the blocking executor refused delivery work ({}); trying again at {}", ex.toString(),
                        retryAt);
            } else {
                log.debug("queue: the blocking executor refused delivery work again ({} in a row)", n);
            }
            return;
        }
        synchronized (this) {
            refusals = 0;
        }
    }

    // ---------------------------------------------------------------- SmtpQueue

    @Override
    public synchronized QueueStatus status() {
        Instant now = clock.instant();
        Optional<Duration> oldest = entries.values().stream().map(e -> e.env.received())
                .min(Comparator.naturalOrder()).map(r -> Duration.between(r, now));
        Map<String, String> held = new LinkedHashMap<>();
        queues.values().forEach(q -> {
            if (q.heldUntil != null && now.isBefore(q.heldUntil)) {
                held.put(q.name, "until " + q.heldUntil + ": " + q.heldWhy);
            }
        });
        return new QueueStatus(entries.size(), spool.usedBytes(), oldest, held);
    }

    @Override
    public synchronized List<QueuedMessage> list() {
        return entries.values().stream().sorted(Comparator.comparing((Entry e) -> e.env.received())
                .thenComparing(e -> e.env.id())).map(e -> describe(e.env, e.state)).toList();
    }

    static QueuedMessage describe(Envelope env, DeliveryState s) {
        List<String> pending = env.recipients().stream()
                .filter(r -> !s.delivered().contains(r) && !s.failed().containsKey(r)).toList();
        return new QueuedMessage(env.id(), env.account(), env.clientFrom(), pending, env.received(), env.size(),
                s.attempts(), s.nextAttempt(), s.lastReply());
    }

    @Override
    public int retry(String idOrAll) {
        int n = 0;
        synchronized (this) {
            Instant now = clock.instant();
            if (idOrAll.equals("all")) {
                queues.values().forEach(q -> {
                    q.heldUntil = null;
                    q.heldWhy = null;
                    q.connectionFailures = 0;
                });
            }
            for (Entry e : new ArrayList<>(entries.values())) {
                if (idOrAll.equals("all") || e.env.id().equals(idOrAll)) {
                    if (!e.inFlight) {
                        reposition(e, e.state.withNext(now));
                    }
                    n++;
                }
            }
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
            Entry e = entries.get(id);
            if (e == null) {
                throw new IllegalArgumentException("no queued message " + id);
            }
            if (e.inFlight) {
                throw new IllegalStateException("message " + id + " is being delivered right now; try again shortly");
            }
            entries.remove(id);
            queue(e.env.account()).due.remove(e);
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
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        List<Refused> dropped = new ArrayList<>(refused);
        refused.clear();
        for (Refused r : dropped) {
            if (r.records()) {
                r.task().run(); // an attempt's result: recorded now, so an accepted message is not sent again
            } else {
                r.onDropped().run(); // its message stays in the spool for the next start
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (queues.values().stream().anyMatch(q -> q.inFlight > 0)) {
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
