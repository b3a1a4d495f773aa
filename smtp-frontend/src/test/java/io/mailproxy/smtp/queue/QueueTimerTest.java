package io.mailproxy.smtp.queue;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.testkit.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The timer's invariant: at most one live timer, never none while a tick re-arms it, never dead after a failure. */
class QueueTimerTest {

    private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");
    private static final Duration IDLE_POLL = Duration.ofSeconds(30);

    private final MutableClock clock = new MutableClock(T0);
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final List<Instant> ticks = new ArrayList<>();
    private Runnable onTick = () -> { };
    private final QueueTimer timer = timer(scheduler);

    private QueueTimer timer(java.util.concurrent.ScheduledExecutorService on) {
        return new QueueTimer(on, clock, IDLE_POLL, () -> {
            ticks.add(clock.instant());
            onTick.run();
        });
    }

    @AfterEach
    void noTaskFailed() {
        assertThat(scheduler.errors()).isEmpty();
    }

    @Test
    void aSoonerWakeReplacesTheTimerAndALaterOneLeavesIt() {
        timer.arm(T0.plusSeconds(60));
        timer.arm(T0.plusSeconds(10));
        timer.arm(T0.plusSeconds(20));
        assertThat(scheduler.queued()).isEqualTo(1);

        scheduler.advance(Duration.ofMinutes(2));
        assertThat(ticks).containsExactly(T0.plusSeconds(10));
        assertThat(scheduler.queued()).as("nothing re-armed it").isZero();
    }

    @Test
    void aTickThatArmsTheNextOneLeavesExactlyOneLiveTimer() {
        // the pump arms the timer from within the timer's own run: that arming must not be taken for a live timer
        onTick = () -> timer.arm(clock.instant().plus(IDLE_POLL));
        timer.arm(T0.plus(IDLE_POLL));
        for (int i = 1; i <= 5; i++) {
            scheduler.advance(IDLE_POLL);
            assertThat(scheduler.queued()).as("after tick %d", i).isEqualTo(1);
        }
        assertThat(ticks).hasSize(5).last().isEqualTo(T0.plus(IDLE_POLL.multipliedBy(5)));
    }

    @Test
    void aFailingTickRunsAgainAfterTheIdlePoll() {
        onTick = () -> {
            if (ticks.size() == 1) {
                throw new IllegalStateException("a bug in the pump");
            }
        };
        timer.arm(T0.plusSeconds(5));
        scheduler.advance(Duration.ofSeconds(5));
        assertThat(scheduler.queued()).isEqualTo(1);

        scheduler.advance(IDLE_POLL);
        assertThat(ticks).containsExactly(T0.plusSeconds(5), T0.plusSeconds(5).plus(IDLE_POLL));
    }

    @Test
    void aTickNeverRunsBeforeItsMomentAndAPastOneRunsAtOnce() {
        timer.arm(T0.plusNanos(500_000)); // half a millisecond: rounded up, not down
        scheduler.runDue();
        assertThat(ticks).isEmpty();
        scheduler.advance(Duration.ofMillis(1));
        assertThat(ticks).containsExactly(T0.plusMillis(1));

        timer.arm(T0.minusSeconds(5));
        scheduler.runDue();
        assertThat(ticks).hasSize(2);
    }

    @Test
    void afterCloseNothingIsArmed() {
        timer.arm(T0.plusSeconds(10));
        timer.close();
        assertThat(scheduler.queued()).isZero();
        timer.arm(T0.plusSeconds(5));
        assertThat(scheduler.queued()).isZero();
        scheduler.advance(Duration.ofMinutes(1));
        assertThat(ticks).isEmpty();
    }

    @Test
    void withoutASchedulerArmingDoesNothing() {
        QueueTimer none = timer(null);
        none.arm(T0);
        none.close();
        assertThat(ticks).isEmpty();
    }

    @Test
    void aTimerAlreadyRunningWhenASoonerOneIsArmedLeavesThatOneLive() {
        Capturing capturing = new Capturing();
        try {
            QueueTimer t = timer(capturing);
            t.arm(T0.plusSeconds(10));
            t.arm(T0.plusSeconds(5)); // cancels the first, which (on a real scheduler) may have started already
            assertThat(capturing.scheduled).hasSize(2);

            capturing.scheduled.get(0).run(); // the first one's run: it must not let go of the second
            t.arm(T0.plusSeconds(20));
            assertThat(capturing.scheduled).as("the sooner timer is still live: no third").hasSize(2);
            assertThat(ticks).hasSize(1);
        } finally {
            capturing.shutdownNow();
        }
    }

    /** Keeps what is scheduled without running it; cancelling marks the future done, as on a real scheduler. */
    private static final class Capturing extends ScheduledThreadPoolExecutor {
        final List<Runnable> scheduled = new ArrayList<>();

        Capturing() {
            super(1);
        }

        @Override
        public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
            scheduled.add(command);
            return new Captured();
        }
    }

    private static final class Captured implements ScheduledFuture<Object> {
        private volatile boolean cancelled;

        @Override
        public long getDelay(TimeUnit unit) {
            return 0;
        }

        @Override
        public int compareTo(Delayed o) {
            return 0;
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            cancelled = true;
            return true;
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }

        @Override
        public boolean isDone() {
            return cancelled;
        }

        @Override
        public Object get() {
            throw new UnsupportedOperationException();
        }

        @Override
        public Object get(long timeout, TimeUnit unit) {
            throw new UnsupportedOperationException();
        }
    }
}
