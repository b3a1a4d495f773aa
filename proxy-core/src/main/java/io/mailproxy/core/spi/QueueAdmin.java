package io.mailproxy.core.spi;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A frontend's store-and-forward queue as the daemon and the CLI see it: status for {@code /status} and
 * {@code /health}, and {@code queue list/retry/delete}. The running daemon's comes from {@link Frontend#queue()}; with
 * no daemon running, from {@link FrontendFactory#offlineQueue}.
 */
public interface QueueAdmin {

    QueueStatus status();

    /** Every queued message, oldest first. */
    List<QueuedMessage> list();

    /**
     * Makes a message due now ({@code "all"}: every message, and lifts every account's deferral or pause).
     *
     * @return how many messages were made due
     * @throws IllegalArgumentException for an unknown id
     */
    int retry(String idOrAll) throws IOException;

    /**
     * Removes a message without delivering or bouncing it.
     *
     * @throws IllegalArgumentException for an unknown id
     * @throws IllegalStateException    while the message is being delivered
     */
    void delete(String id) throws IOException;

    /** One queued message. {@code pending} are the recipients still to deliver. */
    record QueuedMessage(String id, String account, String from, List<String> pending, Instant received, long size,
                         int attempts, Instant nextAttempt, String lastReply) {

        /** One line for {@code queue list}. */
        public String line() {
            return id + " " + received + " " + size + " octets, account " + account + ", from <" + from + "> to "
                    + pending.stream().map(r -> "<" + r + ">").reduce((a, b) -> a + "," + b).orElse("-")
                    + ", attempts " + attempts + ", next " + nextAttempt
                    + (lastReply.isEmpty() ? "" : ", last: " + lastReply);
        }
    }

    /**
     * @param depth       messages in the queue
     * @param bytes       octets the spool holds
     * @param oldestAge   age of the oldest message, if any
     * @param heldAccounts accounts whose queue waits (quota deferral, throttling pause, upstream back-off), with why
     */
    record QueueStatus(int depth, long bytes, Optional<Duration> oldestAge, Map<String, String> heldAccounts) {

        public QueueStatus {
            heldAccounts = Map.copyOf(heldAccounts);
        }

        /** Lines for {@code ./mailproxy status}. */
        public List<String> lines() {
            List<String> lines = new ArrayList<>();
            lines.add("queue depth=" + depth + " bytes=" + bytes + " oldest-age="
                    + oldestAge.map(d -> d.toSeconds() + "s").orElse("-"));
            heldAccounts.forEach((account, why) -> lines.add("queue account " + account + " held: " + why));
            return lines;
        }
    }
}
