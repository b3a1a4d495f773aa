package io.mailproxy.smtp.queue;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands the worker's tasks to the blocking executor. A task the executor refuses (saturated) is kept and handed again
 * from the worker's pump after a back-off, so no message is dropped or left marked in flight; only once closed is it
 * dropped ({@code onDropped} runs; the spool keeps the message's state), except a task that records an attempt's
 * result: that one runs all the same, on the caller's thread (else a message the upstream accepted is sent again
 * after the restart).
 *
 * <p>Guarded by {@code lock}, the worker's monitor: {@link #takeDue}, {@link #retryAt} and {@link #close} are called
 * with it held.
 */
final class Handoff {

    /** The worker's log lines, under the worker's name as before. */
    private static final Logger log = LoggerFactory.getLogger(DeliveryWorker.class);

    /** A task the executor refused, what undoes its claim, and whether it records an attempt's result. */
    record Work(Runnable task, Runnable onDropped, boolean records) { }

    private final Executor blocking;
    private final Backoff backoff;
    private final Clock clock;
    private final QueueTimer timer;
    private final Object lock;

    private final List<Work> refused = new ArrayList<>();
    private Instant retryAt;
    /** Consecutive refusals, for the back-off. */
    private int refusals;
    private boolean closed;

    Handoff(Executor blocking, Backoff backoff, Clock clock, QueueTimer timer, Object lock) {
        this.blocking = blocking;
        this.backoff = backoff;
        this.clock = clock;
        this.timer = timer;
        this.lock = lock;
    }

    void execute(Work w) {
        execute(w.task(), w.onDropped(), w.records());
    }

    /** Hands {@code task} to the executor, or keeps it (and arms the timer for it) when the executor refuses it. */
    void execute(Runnable task, Runnable onDropped, boolean records) {
        try {
            blocking.execute(task);
        } catch (RejectedExecutionException ex) {
            Instant at;
            int n;
            synchronized (lock) {
                if (!closed) {
                    refused.add(new Work(task, onDropped, records));
                    n = ++refusals;
                    at = clock.instant().plus(backoff.delay(Math.min(n, 8)));
                    retryAt = at;
                    timer.arm(at);
                } else {
                    at = null;
                    n = 0;
                }
            }
            if (at == null && records) {
                log.debug("queue: worker closed; recording an attempt's result on this thread");
                task.run();
            } else if (at == null) {
                log.debug("queue: worker closed, task dropped (the spool keeps the state)");
                onDropped.run();
            } else if (n == 1) {
                log.warn("queue: the blocking executor refused delivery work ({}); trying again at {}", ex.toString(),
                        at);
            } else {
                log.debug("queue: the blocking executor refused delivery work again ({} in a row)", n);
            }
            return;
        }
        synchronized (lock) {
            refusals = 0;
        }
    }

    /** The kept tasks, once their back-off is over (they are no longer kept); none before. */
    List<Work> takeDue() {
        if (refused.isEmpty() || clock.instant().isBefore(retryAt)) {
            return List.of();
        }
        List<Work> due = new ArrayList<>(refused);
        refused.clear();
        return due;
    }

    /** When the kept tasks are handed again; null when none is kept. */
    Instant retryAt() {
        return refused.isEmpty() ? null : retryAt;
    }

    /** Keeps nothing more: each kept task that records a result runs now, each other one is dropped. */
    void close() {
        closed = true;
        List<Work> dropped = new ArrayList<>(refused);
        refused.clear();
        for (Work w : dropped) {
            if (w.records()) {
                w.task().run(); // an attempt's result: recorded now, so an accepted message is not sent again
            } else {
                w.onDropped().run(); // its message stays in the spool for the next start
            }
        }
    }
}
