package io.mailproxy.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A scheduler whose time is a {@link MutableClock}: nothing runs until the test calls {@link #runDue()} or
 * {@link #advance}, which moves the clock from task to task in time order. Tasks may be scheduled from any thread.
 */
public final class ManualScheduler extends AbstractExecutorService implements ScheduledExecutorService {

    private final MutableClock clock;
    private final PriorityQueue<Task> queue = new PriorityQueue<>();
    private final List<Throwable> errors = new ArrayList<>();
    private long seq;
    private volatile boolean shutdown;

    public ManualScheduler(MutableClock clock) {
        this.clock = clock;
    }

    /** Runs every task due now, including those that become due by running them. */
    public void runDue() {
        runUntil(clock.millis());
    }

    /** Moves the clock forward by {@code d}, running each task at its own moment. */
    public void advance(Duration d) {
        long target = clock.millis() + d.toMillis();
        runUntil(target);
        if (clock.millis() < target) {
            clock.set(java.time.Instant.ofEpochMilli(target));
        }
        runUntil(target);
    }

    public synchronized int queued() {
        return queue.size();
    }

    public synchronized List<Throwable> errors() {
        return List.copyOf(errors);
    }

    private void runUntil(long target) {
        while (true) {
            Task t;
            synchronized (this) {
                t = queue.peek();
                if (t == null || t.due > target) {
                    return;
                }
                queue.poll();
            }
            if (t.due > clock.millis()) {
                clock.set(java.time.Instant.ofEpochMilli(t.due));
            }
            try {
                t.task.run();
            } catch (Throwable e) {
                synchronized (this) {
                    errors.add(e);
                }
            }
            synchronized (this) {
                if (t.period != 0 && !t.cancelled) {
                    t.due = t.period > 0 ? t.due + t.period : clock.millis() - t.period;
                    t.seq = seq++;
                    queue.add(t);
                } else {
                    t.done = true;
                }
            }
        }
    }

    private synchronized Task add(Runnable r, long delayMillis, long period) {
        Task t = new Task(r, clock.millis() + Math.max(0, delayMillis), period, seq++);
        queue.add(t);
        return t;
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        return add(command, unit.toMillis(delay), 0);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        throw new UnsupportedOperationException();
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        return add(command, unit.toMillis(initialDelay), Math.max(1, unit.toMillis(period)));
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        return add(command, unit.toMillis(initialDelay), -Math.max(1, unit.toMillis(delay)));
    }

    @Override
    public void execute(Runnable command) {
        add(command, 0, 0);
    }

    @Override
    public void shutdown() {
        shutdown = true;
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown = true;
        synchronized (this) {
            queue.clear();
        }
        return List.of();
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        return shutdown;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return true;
    }

    private final class Task implements ScheduledFuture<Object> {
        final Runnable task;
        final long period;
        long due;
        long seq;
        volatile boolean cancelled;
        volatile boolean done;

        Task(Runnable task, long due, long period, long seq) {
            this.task = task;
            this.due = due;
            this.period = period;
            this.seq = seq;
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(due - clock.millis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public int compareTo(Delayed o) {
            Task other = (Task) o;
            int c = Long.compare(due, other.due);
            return c != 0 ? c : Long.compare(seq, other.seq);
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            synchronized (ManualScheduler.this) {
                if (done) {
                    return false;
                }
                cancelled = true;
                queue.remove(this);
                return true;
            }
        }

        @Override
        public boolean isCancelled() {
            return cancelled;
        }

        @Override
        public boolean isDone() {
            return done || cancelled;
        }

        @Override
        public Object get() {
            throw new UnsupportedOperationException("a manual scheduler's futures are not awaited");
        }

        @Override
        public Object get(long timeout, TimeUnit unit) {
            return get();
        }
    }
}
