package io.mailproxy.core.runtime;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Lets one line of a kind through per interval and counts the rest, so that a flood (10,000 connections refused in a
 * second) costs a few log lines, not one each: the first line goes out at once, later ones at most once per
 * interval, each saying how many like it were held back since the last. Thread-safe; no lock.
 */
final class LogThrottle {

    private final Clock clock;
    private final long intervalMillis;
    private final AtomicLong nextAllowed = new AtomicLong(Long.MIN_VALUE);
    private final AtomicLong suppressed = new AtomicLong();

    LogThrottle(Clock clock, Duration interval) {
        this.clock = clock;
        this.intervalMillis = interval.toMillis();
    }

    /**
     * Calls {@code log} with the number of lines held back since the last one that went out (0 for most), or counts
     * this one as held back.
     */
    void log(Consumer<Long> log) {
        long now = clock.millis();
        long next = nextAllowed.get();
        if (now >= next && nextAllowed.compareAndSet(next, now + intervalMillis)) {
            log.accept(suppressed.getAndSet(0));
        } else {
            suppressed.incrementAndGet();
        }
    }
}
