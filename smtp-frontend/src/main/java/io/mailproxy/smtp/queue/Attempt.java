package io.mailproxy.smtp.queue;

import java.util.List;
import java.util.concurrent.CompletableFuture;

/** Sends one queued message to some of its recipients; {@link Delivery} over the pool, a script in tests. */
@FunctionalInterface
public interface Attempt {
    /**
     * @param recipients the recipients still due (in envelope order)
     * @return never completes exceptionally: failures are results
     */
    CompletableFuture<AttemptResult> deliver(Envelope envelope, List<String> recipients);
}
