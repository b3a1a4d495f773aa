package io.mailproxy.core.identity;

import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.testkit.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;

/** A {@link Scheduler} on testkit's {@link MutableClock}: nothing runs until the test moves time. Any thread. */
final class ManualScheduler implements Scheduler {

    private record Task(Instant due, long seq, Runnable run, CompletableFuture<Void> handle) { }

    private final MutableClock clock;
    private final PriorityQueue<Task> tasks = new PriorityQueue<>(
            Comparator.comparing(Task::due).thenComparingLong(Task::seq));
    private long seq;

    ManualScheduler(MutableClock clock) {
        this.clock = clock;
    }

    @Override
    public synchronized Future<?> schedule(Runnable task, Duration delay) {
        CompletableFuture<Void> handle = new CompletableFuture<>();
        tasks.add(new Task(clock.instant().plus(delay), seq++, task, handle));
        return handle;
    }

    /** Tasks ever scheduled. */
    synchronized long scheduled() {
        return seq;
    }

    /** Tasks waiting. */
    synchronized int pending() {
        return tasks.size();
    }

    /** Moves the clock to the soonest task (when it is later than now) and runs it; false when there is none. */
    boolean runNext() {
        Task next;
        synchronized (this) {
            next = tasks.poll();
        }
        if (next == null) {
            return false;
        }
        if (next.due().isAfter(clock.instant())) {
            clock.set(next.due());
        }
        next.handle().complete(null);
        next.run().run();
        return true;
    }

    /** Moves the clock by {@code d}, running each task due by then at its own moment. */
    void advance(Duration d) {
        Instant target = clock.instant().plus(d);
        while (true) {
            synchronized (this) {
                Task head = tasks.peek();
                if (head == null || head.due().isAfter(target)) {
                    break;
                }
            }
            runNext();
        }
        clock.set(target);
    }
}
