package io.mailproxy.smtp.queue;

import java.time.Clock;
import java.time.Duration;

/**
 * A token bucket that holds at most {@code capacity} tokens and refills them evenly over {@code period}
 * ({@code capacity} per period). Not thread-safe: the worker guards it.
 */
final class TokenBucket {

    private final long capacity;
    private final long periodNanos;
    private final Clock clock;
    /** Tokens in nano-token units (capacity * periodNanos would overflow, so fractions are tracked per token). */
    private double tokens;
    private long lastNanos;

    TokenBucket(long capacity, Duration period, Clock clock) {
        this.capacity = capacity;
        this.periodNanos = period.toNanos();
        this.clock = clock;
        this.tokens = capacity;
        this.lastNanos = nanos();
    }

    private long nanos() {
        java.time.Instant i = clock.instant();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    private void refill() {
        long now = nanos();
        if (now > lastNanos) {
            tokens = Math.min(capacity, tokens + (double) (now - lastNanos) * capacity / periodNanos);
        }
        lastNanos = now;
    }

    /** Takes {@code n} tokens if there are that many (a request above the capacity waits for a full bucket). */
    boolean tryTake(long n) {
        refill();
        long need = Math.min(n, capacity);
        if (tokens + 1e-9 >= need) {
            tokens -= n;
            return true;
        }
        return false;
    }

    /** How long until {@code n} tokens are there. */
    Duration timeUntil(long n) {
        refill();
        double missing = Math.min(n, capacity) - tokens;
        if (missing <= 0) {
            return Duration.ZERO;
        }
        return Duration.ofNanos((long) Math.ceil(missing * periodNanos / capacity));
    }

    double available() {
        refill();
        return tokens;
    }
}
