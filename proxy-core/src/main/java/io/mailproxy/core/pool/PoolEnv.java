package io.mailproxy.core.pool;

import io.mailproxy.core.upstream.UpstreamConnector;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;

/**
 * What every pool of a registry shares: the connector, injected time, scheduler and randomness (DESIGN rule 8), the
 * meter registry, and the tag counter that keeps the pool's own IMAP tags ({@code mpx1}, {@code mpx2}, ...) apart
 * from any client's.
 *
 * @param exchangeTimeout how long a probe or reset waits for the upstream's reply
 * @param throttleInitial the first back-off after a throttling reply; it doubles up to {@code throttleMax}
 * @param retryInitial    the first pause before pre-warming again after a failed connection; doubles up to
 *                        {@code throttleMax}
 */
record PoolEnv(
        UpstreamConnector connector,
        Clock clock,
        ScheduledExecutorService scheduler,
        MeterRegistry meters,
        RandomGenerator random,
        Duration exchangeTimeout,
        Duration throttleInitial,
        Duration throttleMax,
        Duration retryInitial,
        AtomicLong tags) {

    String nextTag() {
        return "mpx" + tags.incrementAndGet();
    }
}
