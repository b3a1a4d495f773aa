package io.mailproxy.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LogThrottleTest {

    /** Starts near the end of the long range: the ticker may wrap, as System.nanoTime may. */
    private long now = Long.MAX_VALUE - TimeUnit.SECONDS.toNanos(15);

    @Test
    void theFirstLineGoesOutThenOnePerIntervalSayingHowManyWereHeldBack() {
        LogThrottle throttle = new LogThrottle(() -> now, Duration.ofSeconds(10));
        List<Long> lines = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            throttle.log(lines::add);
        }
        assertThat(lines).containsExactly(0L);
        now += TimeUnit.SECONDS.toNanos(9);
        throttle.log(lines::add);
        assertThat(lines).containsExactly(0L);
        now += TimeUnit.SECONDS.toNanos(1);
        throttle.log(lines::add);
        assertThat(lines).containsExactly(0L, 1000L);
        now += TimeUnit.SECONDS.toNanos(60); // past Long.MAX_VALUE: wrapped
        throttle.log(lines::add);
        assertThat(lines).containsExactly(0L, 1000L, 0L);
    }
}
