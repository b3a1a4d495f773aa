package io.mailproxy.core.graph;

import io.mailproxy.core.credentials.Scheduler;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Graph's throttling of one mailbox, on our side: at most {@code limit} requests in flight (Outlook's 4 concurrent
 * requests per app and mailbox, concepts/throttling-limits.md), the rest waiting first in first out in a bounded
 * queue, and, after a 429 or 503 with {@code Retry-After}, nobody starts until it has passed ("wait the number of
 * seconds specified in the Retry-After header" before the next request, concepts/throttling.md). Waiters are granted
 * on the client's executor, never on the releasing thread's stack.
 */
final class MailboxGate {

    private final String name;
    private final Clock clock;
    private final Scheduler scheduler;
    private final Executor executor;
    private final ArrayDeque<CompletableFuture<Runnable>> waiting = new ArrayDeque<>();
    private int inFlight;
    private Instant holdUntil = Instant.MIN;
    private boolean timerArmed;
    /** The limit of the latest acquire (the upstream's setting, which a reload may change). */
    private int lastLimit = 1;

    MailboxGate(String name, Clock clock, Scheduler scheduler, Executor executor) {
        this.name = name;
        this.clock = clock;
        this.scheduler = scheduler;
        this.executor = executor;
    }

    /**
     * A permit: completes with its release (call it exactly once; later calls do nothing) when fewer than
     * {@code limit} requests are in flight and no Retry-After holds the mailbox; fails with THROTTLED at once when
     * {@code queue} requests already wait.
     */
    CompletableFuture<Runnable> acquire(int limit, int queue) {
        List<CompletableFuture<Runnable>> granted;
        CompletableFuture<Runnable> mine = new CompletableFuture<>();
        synchronized (this) {
            lastLimit = limit;
            if (waiting.isEmpty() && inFlight < limit && !held()) {
                inFlight++;
                return CompletableFuture.completedFuture(release());
            }
            if (waiting.size() >= queue) {
                return CompletableFuture.failedFuture(new GraphException(GraphException.Kind.THROTTLED, 0, "",
                        "Graph requests for " + name + ": " + inFlight + " in flight and " + waiting.size()
                                + " waiting (graph-queue); try again later", Optional.of(Duration.ofSeconds(1)), null));
            }
            waiting.add(mine);
            granted = grant(limit);
        }
        hand(granted);
        return mine;
    }

    /** Holds every request to this mailbox until {@code delay} from now (a Retry-After). */
    void hold(Duration delay) {
        synchronized (this) {
            Instant until = clock.instant().plus(delay);
            if (until.isAfter(holdUntil)) {
                holdUntil = until;
            }
        }
    }

    synchronized int inFlight() {
        return inFlight;
    }

    synchronized int waiting() {
        return waiting.size();
    }

    private Runnable release() {
        AtomicBoolean done = new AtomicBoolean();
        return () -> {
            if (done.compareAndSet(false, true)) {
                List<CompletableFuture<Runnable>> granted;
                synchronized (this) {
                    inFlight--;
                    granted = grant(lastLimit);
                }
                hand(granted);
            }
        };
    }

    /** Under the lock: the waiters that may start now; arms a timer for the end of a hold. */
    private List<CompletableFuture<Runnable>> grant(int limit) {
        lastLimit = limit;
        List<CompletableFuture<Runnable>> out = new ArrayList<>();
        if (held()) {
            if (!waiting.isEmpty() && !timerArmed) {
                timerArmed = true;
                scheduler.schedule(this::holdOver, Duration.between(clock.instant(), holdUntil));
            }
            return out;
        }
        while (!waiting.isEmpty() && inFlight < limit) {
            inFlight++;
            out.add(waiting.poll());
        }
        return out;
    }

    private void holdOver() {
        List<CompletableFuture<Runnable>> granted;
        synchronized (this) {
            timerArmed = false;
            granted = grant(lastLimit);
        }
        hand(granted);
    }

    private boolean held() {
        return clock.instant().isBefore(holdUntil);
    }

    private void hand(List<CompletableFuture<Runnable>> granted) {
        for (CompletableFuture<Runnable> f : granted) {
            Runnable release = release();
            executor.execute(() -> {
                if (!f.complete(release)) {
                    release.run(); // nobody waits for it any more
                }
            });
        }
    }
}
