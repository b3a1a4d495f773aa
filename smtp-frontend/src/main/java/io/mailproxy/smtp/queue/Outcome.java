package io.mailproxy.smtp.queue;

import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.upstream.Office365Replies;

/** How the worker takes an upstream reply (Office 365's codes as DESIGN lists them). */
enum Outcome {
    OK,
    /** 4xx (432 4.3.2 included): this message again later, with back-off. */
    TEMPORARY,
    /** 554 5.2.0 SubmissionQuotaExceeded: the account's whole queue waits until the quota lifts. */
    QUOTA,
    /**
     * 550 5.2.251-255: the account is throttled; its whole queue pauses. Also 554 5.2.2 "mailbox full": the sending
     * mailbox is full and refuses every message, so the fault is the account's, not the message's: its queue pauses
     * instead of bouncing the message.
     */
    THROTTLED,
    /** Any other 5xx: not retried, bounced. */
    PERMANENT;

    static Outcome of(SmtpReply reply) {
        if (reply.positive()) {
            return OK;
        }
        if (Office365Replies.submissionQuotaExceeded(reply)) {
            return QUOTA;
        }
        if (Office365Replies.continuousErrorThrottling(reply) || Office365Replies.sendingMailboxFull(reply)) {
            return THROTTLED;
        }
        return reply.transientFailure() ? TEMPORARY : PERMANENT;
    }
}
