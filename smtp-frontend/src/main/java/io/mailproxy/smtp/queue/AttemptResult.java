package io.mailproxy.smtp.queue;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * What one delivery attempt achieved, per recipient.
 *
 * @param delivered recipients the upstream took the message for (after its 250 to the final dot)
 * @param permanent recipients refused for good, with the reply
 * @param hold      what the account must do before its next attempt
 * @param lastReply  the reply (or failure) that decided the attempt, for the state file and the log
 * @param retryAfter how long the upstream asked to wait (Graph's {@code Retry-After}); with {@link Hold#RETRY_AFTER}
 *                   the account waits that long
 */
public record AttemptResult(Set<String> delivered, Map<String, String> permanent, Hold hold, String lastReply,
                            Optional<Duration> retryAfter) {

    /** Account-wide consequences of an attempt. */
    public enum Hold {
        NONE,
        /** The upstream or its token endpoint could not be reached: the account backs off. */
        CONNECTION,
        /** 554 5.2.0 SubmissionQuotaExceeded. */
        QUOTA,
        /** 550 5.2.251-255. */
        THROTTLED,
        /** Microsoft Graph refused access (401/403: a permission or access policy): the account backs off, mail waits. */
        CONFIGURATION,
        /** Microsoft Graph asked to wait ({@code 429}/{@code 503} with {@code Retry-After}): the account waits that long. */
        RETRY_AFTER
    }

    public AttemptResult {
        delivered = Set.copyOf(delivered);
        permanent = Map.copyOf(permanent);
    }

    public AttemptResult(Set<String> delivered, Map<String, String> permanent, Hold hold, String lastReply) {
        this(delivered, permanent, hold, lastReply, Optional.empty());
    }

    public static AttemptResult temporary(String why) {
        return new AttemptResult(Set.of(), Map.of(), Hold.NONE, why);
    }

    public static AttemptResult held(Hold hold, String why) {
        return new AttemptResult(Set.of(), Map.of(), hold, why);
    }
}
