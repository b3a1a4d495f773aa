package io.mailproxy.smtp.queue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's one timer: runs {@code tick} (the worker's pump) at the soonest moment it was armed for. At most one
 * timer is live, and never none while the worker runs: each pump arms it (at the latest for the idle poll), a timer
 * that fires lets go of itself before its tick so that the tick's own arming sets the next one, and a tick that fails
 * is logged and tried again after the idle poll.
 */
final class QueueTimer {

    /** The worker's log lines, under the worker's name as before. */
    private static final Logger log = LoggerFactory.getLogger(DeliveryWorker.class);

    private final ScheduledExecutorService scheduler;
    private final Clock clock;
    private final Duration idlePoll;
    private final Runnable tick;

    private ScheduledFuture<?> timer;
    private Instant timerAt;
    /** Which arming {@link #timer} belongs to: a timer that fires clears it only if it is still its own. */
    private long timerSeq;
    private boolean closed;

    /** @param scheduler null: no timer at all (the caller pumps by hand) */
    QueueTimer(ScheduledExecutorService scheduler, Clock clock, Duration idlePoll, Runnable tick) {
        this.scheduler = scheduler;
        this.clock = clock;
        this.idlePoll = idlePoll;
        this.tick = tick;
    }

    /** Makes sure the tick runs at {@code wake} or sooner: a live timer due no later stays, a later one is replaced. */
    synchronized void arm(Instant wake) {
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
            timer = scheduler.schedule(() -> fired(seq), delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            timer = null;
            timerAt = null;
        }
    }

    /** Cancels the timer; nothing is armed after this. */
    synchronized void close() {
        closed = true;
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /**
     * The timer armed as {@code seq} runs. While it runs its future is not done, so it lets go of it first: the
     * tick's {@link #arm} must set the next timer (else nothing runs until other mail arrives). A timer armed since
     * (sooner) stays. A timer must never die silently: a failure is logged and the tick runs again after idle-poll.
     */
    private void fired(long seq) {
        synchronized (this) {
            if (seq == timerSeq) {
                timer = null;
                timerAt = null;
            }
        }
        try {
            tick.run();
        } catch (RuntimeException | Error e) {
            log.error("queue: the delivery worker failed; it tries again in {}", idlePoll, e);
            arm(clock.instant().plus(idlePoll));
        }
    }
}
