package io.mailproxy.smtp.queue;

import io.mailproxy.smtp.queue.AttemptResult.Hold;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one attempt's result makes of its message and of its account: the recipients delivered or failed for good,
 * the account's hold (quota deferral, throttling pause, upstream back-off), the give-up at max-age and the message's
 * next attempt. Plain Java (no I/O, no lock, the time given): the worker applies it and records {@code after}.
 *
 * @param after              the message's state after the attempt
 * @param pending            recipients still due (none once finished)
 * @param finished           every recipient delivered or failed: its failures are bounced, then it is removed
 * @param expired            it outlived max-age: its pending recipients failed with 4.4.7
 * @param retried            it is tried again after its own back-off (a retry); a held account's message is not
 * @param holdUntil          the account waits until then (unless already held longer); null: no hold
 * @param holdWhy            why the account waits, for the status
 * @param connectionFailures the account's consecutive failures to reach its upstream, after the attempt
 */
record Verdict(DeliveryState after, List<String> pending, boolean finished, boolean expired, boolean retried,
               Instant holdUntil, String holdWhy, int connectionFailures) {

    /**
     * @param state              the message's state during the attempt (its attempt counted)
     * @param connectionFailures the account's consecutive connection failures before the attempt
     */
    static Verdict of(Envelope env, DeliveryState state, AttemptResult r, Instant now, int connectionFailures,
                      QueueSettings settings, Backoff backoff) {
        Set<String> delivered = new LinkedHashSet<>(state.delivered());
        delivered.addAll(r.delivered());
        Map<String, String> failed = new LinkedHashMap<>(state.failed());
        failed.putAll(r.permanent());
        Instant holdUntil = null;
        String holdWhy = null;
        int failures = connectionFailures;
        switch (r.hold()) {
            case QUOTA -> {
                holdUntil = now.plus(settings.quotaDeferral());
                holdWhy = "daily recipient quota reached upstream (" + r.lastReply() + ")";
            }
            case THROTTLED -> {
                holdUntil = now.plus(settings.throttlePause());
                holdWhy = "throttled upstream (" + r.lastReply() + ")";
            }
            case CONNECTION -> {
                failures++;
                holdUntil = now.plus(backoff.delay(failures));
                holdWhy = "upstream unavailable (" + r.lastReply() + ")";
            }
            case CONFIGURATION -> {
                // not the upstream's fault and not the message's: never bounced for it (max-age still applies)
                failures++;
                holdUntil = now.plus(backoff.delay(failures));
                holdWhy = "Microsoft Graph refused access, a configuration fault (" + r.lastReply() + ")";
            }
            case RETRY_AFTER -> {
                holdUntil = now.plus(r.retryAfter().orElse(settings.initialBackoff()));
                holdWhy = "throttled by Microsoft Graph (" + r.lastReply() + ")";
            }
            case NONE -> failures = 0;
        }
        List<String> pending = QueueEntry.pending(env, delivered, failed);
        boolean expired = !pending.isEmpty()
                && Duration.between(env.received(), now).compareTo(settings.maxAge()) > 0;
        if (expired) {
            for (String rcpt : pending) {
                failed.put(rcpt, "4.4.7 Delivery time expired after " + state.attempts() + " attempt(s); last: "
                        + r.lastReply());
            }
            pending = List.of();
        }
        boolean finished = pending.isEmpty();
        // a held account's message keeps its place in the account's queue: the hold gates it
        boolean retried = !finished && r.hold() == Hold.NONE;
        Instant next = retried ? now.plus(backoff.delay(state.attempts())) : now;
        DeliveryState after = new DeliveryState(state.attempts(), next, r.lastReply(), delivered, failed,
                state.bounced(), state.draft());
        return new Verdict(after, pending, finished, expired, retried, holdUntil, holdWhy, failures);
    }
}
