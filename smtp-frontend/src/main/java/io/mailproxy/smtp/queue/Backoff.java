package io.mailproxy.smtp.queue;

import java.time.Duration;
import java.util.random.RandomGenerator;

/** Exponential back-off with jitter: initial * 2^(n-1), capped at max, varied by +/- jitter. */
final class Backoff {

    private final Duration initial;
    private final Duration max;
    private final double jitter;
    private final RandomGenerator random;

    Backoff(Duration initial, Duration max, double jitter, RandomGenerator random) {
        this.initial = initial;
        this.max = max;
        this.jitter = jitter;
        this.random = random;
    }

    /** The wait after the {@code failures}-th consecutive failure (1 = the first). */
    Duration delay(int failures) {
        double base = initial.toMillis() * Math.pow(2, Math.max(0, Math.min(failures, 40) - 1));
        base = Math.min(base, max.toMillis());
        double factor = 1 + jitter * (random.nextDouble() * 2 - 1);
        return Duration.ofMillis(Math.max(1, Math.round(base * factor)));
    }
}
