package io.mailproxy.core.credentials;

import io.mailproxy.testkit.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;

/** A scheduler driven by testkit's {@link MutableClock}, so tests move time instead of sleeping. */
final class TestTime {
    private TestTime() { }

    /** Tasks wait until the clock passes their due time and {@link #advance} or {@link #runDue} runs them. */
    static final class ManualScheduler implements Scheduler {
        private final MutableClock clock;
        private final List<Task> tasks = new ArrayList<>();

        ManualScheduler(MutableClock clock) {
            this.clock = clock;
        }

        private record Task(Instant due, Runnable run, CompletableFuture<Void> handle) { }

        @Override
        public synchronized Future<?> schedule(Runnable task, Duration delay) {
            CompletableFuture<Void> handle = new CompletableFuture<>();
            tasks.add(new Task(clock.instant().plus(delay), task, handle));
            return handle;
        }

        /** Pending (not cancelled) tasks' delays from now, soonest first. */
        synchronized List<Duration> pending() {
            tasks.removeIf(t -> t.handle.isCancelled());
            return tasks.stream().sorted(Comparator.comparing(Task::due))
                    .map(t -> Duration.between(clock.instant(), t.due)).toList();
        }

        /** Moves the clock and runs every task due by then, in due order. */
        void advance(Duration d) {
            Instant target = clock.instant().plus(d);
            while (true) {
                Task next;
                synchronized (this) {
                    tasks.removeIf(t -> t.handle.isCancelled());
                    next = tasks.stream().filter(t -> !t.due.isAfter(target))
                            .min(Comparator.comparing(Task::due)).orElse(null);
                    if (next != null) {
                        tasks.remove(next);
                    }
                }
                if (next == null) {
                    break;
                }
                if (next.due.isAfter(clock.instant())) {
                    clock.advance(Duration.between(clock.instant(), next.due));
                }
                next.handle.complete(null);
                next.run.run();
            }
            clock.advance(Duration.between(clock.instant(), target));
        }

        /** Runs every pending task now, without moving the clock (a client polling too early). */
        void runAllNow() {
            List<Task> due;
            synchronized (this) {
                tasks.removeIf(t -> t.handle.isCancelled());
                due = new ArrayList<>(tasks);
                tasks.clear();
            }
            due.forEach(t -> {
                t.handle.complete(null);
                t.run.run();
            });
        }
    }

    /** Holds tasks until {@link #release}: lets many callers pile up behind one in-flight request. */
    static final class GateExecutor implements Executor {
        private final List<Runnable> held = new ArrayList<>();

        @Override
        public synchronized void execute(Runnable command) {
            held.add(command);
        }

        synchronized int held() {
            return held.size();
        }

        void release() {
            List<Runnable> run;
            synchronized (this) {
                run = new ArrayList<>(held);
                held.clear();
            }
            run.forEach(Runnable::run);
        }
    }
}
