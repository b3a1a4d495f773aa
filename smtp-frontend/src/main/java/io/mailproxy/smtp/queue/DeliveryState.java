package io.mailproxy.smtp.queue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Where a queued message's delivery stands, rewritten atomically before and after each attempt.
 *
 * @param attempts    attempts started (a crash during one still counts it)
 * @param nextAttempt when the worker may try again
 * @param lastReply   the upstream's last reply or the failure, for {@code queue list} and the log ("" before any)
 * @param delivered   recipients the upstream accepted the message for (never sent again)
 * @param failed      recipients refused permanently, with the reply (bounced, never sent again)
 * @param bounced     the bounce for {@code failed} has been queued
 * @param draft       Microsoft Graph: the draft whose send was asked for and not confirmed (a lost {@code 202});
 *                    the next attempt asks Graph what became of it instead of sending the message again. A line
 *                    {@code draft ID}; files without it (older versions, SMTP accounts) decode with none.
 */
public record DeliveryState(int attempts, Instant nextAttempt, String lastReply, Set<String> delivered,
                            Map<String, String> failed, boolean bounced, Optional<String> draft) {

    private static final String MAGIC = "mailproxy-state 1";

    public DeliveryState {
        delivered = Set.copyOf(new LinkedHashSet<>(delivered));
        failed = Map.copyOf(new LinkedHashMap<>(failed));
        lastReply = lastReply.replaceAll("[\\r\\n]+", " ");
        draft = draft.filter(d -> !d.isBlank() && d.indexOf('\n') < 0 && d.indexOf('\r') < 0);
    }

    public DeliveryState(int attempts, Instant nextAttempt, String lastReply, Set<String> delivered,
                         Map<String, String> failed, boolean bounced) {
        this(attempts, nextAttempt, lastReply, delivered, failed, bounced, Optional.empty());
    }

    DeliveryState withDraft(Optional<String> id) {
        return new DeliveryState(attempts, nextAttempt, lastReply, delivered, failed, bounced, id);
    }

    static DeliveryState initial(Instant now) {
        return new DeliveryState(0, now, "", Set.of(), Map.of(), false);
    }

    DeliveryState withNext(Instant next) {
        return new DeliveryState(attempts, next, lastReply, delivered, failed, bounced, draft);
    }

    Optional<String> last() {
        return lastReply.isEmpty() ? Optional.empty() : Optional.of(lastReply);
    }

    byte[] encode() {
        StringBuilder sb = new StringBuilder(MAGIC).append('\n');
        sb.append("attempts ").append(attempts).append('\n');
        sb.append("next ").append(nextAttempt).append('\n');
        sb.append("last-reply ").append(lastReply).append('\n');
        sb.append("bounced ").append(bounced).append('\n');
        draft.ifPresent(d -> sb.append("draft ").append(d).append('\n'));
        delivered.forEach(r -> sb.append("delivered ").append(r).append('\n'));
        failed.forEach((r, why) -> sb.append("failed ").append(r).append('\t').append(why.replaceAll("[\\r\\n\\t]+", " "))
                .append('\n'));
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    static DeliveryState decode(byte[] bytes) throws IOException {
        String[] lines = new String(bytes, StandardCharsets.UTF_8).split("\n");
        if (lines.length == 0 || !lines[0].equals(MAGIC)) {
            throw new IOException("not a mailproxy delivery state");
        }
        int attempts = 0;
        Instant next = null;
        String last = "";
        boolean bounced = false;
        Optional<String> draft = Optional.empty();
        Set<String> delivered = new LinkedHashSet<>();
        Map<String, String> failed = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            String line = lines[i];
            int sp = line.indexOf(' ');
            String key = sp < 0 ? line : line.substring(0, sp);
            String value = sp < 0 ? "" : line.substring(sp + 1);
            switch (key) {
                case "attempts" -> attempts = Integer.parseInt(value);
                case "next" -> next = Instant.parse(value);
                case "last-reply" -> last = value;
                case "bounced" -> bounced = Boolean.parseBoolean(value);
                case "delivered" -> delivered.add(value);
                case "draft" -> draft = Optional.of(value);
                case "failed" -> {
                    int s2 = value.indexOf('\t'); // a TAB cannot occur in an address (RFC 5321 4.1.2)
                    failed.put(s2 < 0 ? value : value.substring(0, s2), s2 < 0 ? "" : value.substring(s2 + 1));
                }
                default -> { }
            }
        }
        if (next == null) {
            throw new IOException("incomplete delivery state");
        }
        return new DeliveryState(attempts, next, last, delivered, failed, bounced, draft);
    }
}
