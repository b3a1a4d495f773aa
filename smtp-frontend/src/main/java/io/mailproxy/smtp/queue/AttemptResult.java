package io.mailproxy.smtp.queue;

import java.util.Map;
import java.util.Set;

/**
 * What one delivery attempt achieved, per recipient.
 *
 * @param delivered recipients the upstream took the message for (after its 250 to the final dot)
 * @param permanent recipients refused for good, with the reply
 * @param hold      what the account must do before its next attempt
 * @param lastReply the reply (or failure) that decided the attempt, for the state file and the log
 */
public record AttemptResult(Set<String> delivered, Map<String, String> permanent, Hold hold, String lastReply) {

    /** Account-wide consequences of an attempt. */
    public enum Hold {
        NONE,
        /** The upstream or its token endpoint could not be reached: the account backs off. */
        CONNECTION,
        /** 554 5.2.0 SubmissionQuotaExceeded. */
        QUOTA,
        /** 550 5.2.251-255. */
        THROTTLED
    }

    public AttemptResult {
        delivered = Set.copyOf(delivered);
        permanent = Map.copyOf(permanent);
    }

    public static AttemptResult temporary(String why) {
        return new AttemptResult(Set.of(), Map.of(), Hold.NONE, why);
    }

    public static AttemptResult held(Hold hold, String why) {
        return new AttemptResult(Set.of(), Map.of(), hold, why);
    }
}
