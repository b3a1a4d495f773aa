package io.mailproxy.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class LogThrottleTest {

    private Instant now = Instant.parse("2026-11-25T12:00:00Z");
    private final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    };

    @Test
    void theFirstLineGoesOutThenOnePerIntervalSayingHowManyWereHeldBack() {
        LogThrottle throttle = new LogThrottle(clock, Duration.ofSeconds(10));
        List<Long> lines = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            throttle.log(lines::add);
        }
        assertThat(lines).containsExactly(0L);
        now = now.plusSeconds(9);
        throttle.log(lines::add);
        assertThat(lines).containsExactly(0L);
        now = now.plusSeconds(1);
        throttle.log(lines::add);
        assertThat(lines).containsExactly(0L, 1000L);
        now = now.plusSeconds(60);
        throttle.log(lines::add);
        assertThat(lines).containsExactly(0L, 1000L, 0L);
    }
}
