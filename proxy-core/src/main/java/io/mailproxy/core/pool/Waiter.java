package io.mailproxy.core.pool;

import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledFuture;

/** A caller of {@link AccountPool#acquire} not yet served: its future, its acquire timeout. Guarded by the pool. */
final class Waiter {
    final CompletableFuture<Lease> future = new CompletableFuture<>();
    final Instant start;
    ScheduledFuture<?> timeout;
    /** A connection is being opened for this waiter. */
    boolean creating;

    Waiter(Instant start) {
        this.start = start;
    }

    void fail(Throwable e) {
        if (timeout != null) {
            timeout.cancel(false);
        }
        future.completeExceptionally(e);
    }
}
