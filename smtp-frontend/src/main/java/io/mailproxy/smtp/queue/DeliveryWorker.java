package io.mailproxy.smtp.queue;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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
 * the pump, {@link Handoff} hands work to the blocking executor, {@link Courier} carries each message through its
 * attempt ({@link Verdict} judges the result). State
 * is guarded by this object's monitor; file I/O and attempts run on the blocking executor, timers on the
 * scheduler. The delivery state is written before each attempt (attempt count, next attempt should it crash) and
 * after it (recipients delivered or failed): a recipient the upstream accepted is never sent again, except when
 * the process dies between the upstream's 250 and that write.
 */
public final class DeliveryWorker implements SmtpQueue, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(DeliveryWorker.class);

    private final Spool spool;
    private final QueueSettings settings;
    private final Function<String, Optional<AccountConfig>> accounts;
    private final Clock clock;

    /** The queue in memory; it, the work {@link #handoff} keeps and the flags below are guarded by this monitor. */
    private final Backlog backlog;
    private final QueueTimer timer;
    private final Handoff handoff;
    private final Courier courier;
    private boolean pumping;
    private boolean pumpAgain;
    private boolean closed;

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
        this.accounts = accounts;
        this.clock = clock;
        Backoff backoff = new Backoff(settings.initialBackoff(), settings.maxBackoff(), settings.backoffJitter(), random);
        this.backlog = new Backlog(settings, clock);
        this.timer = new QueueTimer(scheduler, clock, settings.idlePoll(), this::pump);
        this.handoff = new Handoff(blocking, backoff, clock, timer, this);
        this.courier = new Courier(this, backlog, handoff, this::pump, spool, settings, attempt, accounts, clock, backoff,
                reportingMta, headerLimit, meters);
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

    /**
     * The attempt of a daemon with Microsoft Graph: accounts whose upstream has {@code send-with = graph} go through
     * {@code graph}, the others through {@code smtp} ({@link #overPool}).
     */
    public static Attempt withGraph(Attempt smtp, java.util.function.Predicate<AccountConfig> sendsWithGraph,
                                    Function<String, Optional<AccountConfig>> accounts, Spool spool,
                                    io.mailproxy.smtp.graph.GraphSubmission graph) {
        return new GraphDelivery(smtp, sendsWithGraph, accounts, spool, graph);
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
                courier.finish(e);
            } catch (RuntimeException ex) {
                log.error("queue: finishing {} failed; tried again later", e.env.id(), ex);
                courier.backOff(e, clock.instant());
            } finally {
                courier.done(e);
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
                    courier.begin(e);
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
