package io.mailproxy.core.runtime;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Lets one line of a kind through per interval and counts the rest, so that a flood (10,000 connections refused in a
 * second) costs a few log lines, not one each: the first line goes out at once, later ones at most once per
 * interval, each saying how many like it were held back since the last. Thread-safe; no lock.
 */
final class LogThrottle {

    private final LongSupplier nanoTime;
    private final long intervalNanos;
    private final AtomicLong nextAllowed;
    private final AtomicLong suppressed = new AtomicLong();

    /** {@code nanoTime}: a monotonic ticker ({@code System::nanoTime}), so a wall-clock step cannot mute the lines. */
    LogThrottle(LongSupplier nanoTime, Duration interval) {
        this.nanoTime = nanoTime;
        this.intervalNanos = interval.toNanos();
        this.nextAllowed = new AtomicLong(nanoTime.getAsLong());
    }

    /**
     * Calls {@code log} with the number of lines held back since the last one that went out (0 for most), or counts
     * this one as held back.
     */
    void log(Consumer<Long> log) {
        long now = nanoTime.getAsLong();
        long next = nextAllowed.get();
        if (now - next >= 0 && nextAllowed.compareAndSet(next, now + intervalNanos)) {
            log.accept(suppressed.getAndSet(0));
        } else {
            suppressed.incrementAndGet();
        }
    }
}
