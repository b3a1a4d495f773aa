package io.mailproxy.smtp.queue;

import io.mailproxy.smtp.codec.SmtpReply;
import java.util.Locale;

/** How the worker takes an upstream reply (Office 365's codes as DESIGN lists them). */
enum Outcome {
    OK,
    /** 4xx (432 4.3.2 included): this message again later, with back-off. */
    TEMPORARY,
    /** 554 5.2.0 SubmissionQuotaExceeded: the account's whole queue waits until the quota lifts. */
    QUOTA,
    /** 550 5.2.251-255: the account is throttled; its whole queue pauses. */
    THROTTLED,
    /** Any other 5xx: not retried, bounced. */
    PERMANENT;

    static Outcome of(SmtpReply reply) {
        if (reply.positive()) {
            return OK;
        }
        String enhanced = reply.enhancedCode().orElse("");
        String text = String.join(" ", reply.lines()).toLowerCase(Locale.ROOT);
        if (text.contains("submissionquotaexceeded") || (reply.code() == 554 && enhanced.equals("5.2.0"))) {
            return QUOTA;
        }
        if (enhanced.matches("5\\.2\\.25[1-5]")) {
            return THROTTLED;
        }
        return reply.transientFailure() ? TEMPORARY : PERMANENT;
    }
}
