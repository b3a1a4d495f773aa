package io.mailproxy.smtp.queue;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/** Sends one queued message to some of its recipients; {@link Delivery} over the pool, a script in tests. */
@FunctionalInterface
public interface Attempt {
    /**
     * @param recipients the recipients still due (in envelope order)
     * @return never completes exceptionally: failures are results
     */
    CompletableFuture<AttemptResult> deliver(Envelope envelope, List<String> recipients);

    /** The same, with what the attempt may record for the next one ({@link GraphDelivery}'s draft). */
    default CompletableFuture<AttemptResult> deliver(Envelope envelope, List<String> recipients, Progress progress) {
        return deliver(envelope, recipients);
    }

    /** What outlives an attempt, in the message's state file. */
    interface Progress {
        /** The draft an earlier attempt asked Graph to send, unconfirmed. */
        Optional<String> draft();

        /** Records (or, empty, forgets) that draft durably before going on. Blocking. */
        void draft(Optional<String> id) throws IOException;
    }
}
