package io.mailproxy.smtp.graph;

import io.mailproxy.core.graph.GraphException;
import io.mailproxy.smtp.codec.SmtpReply;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Graph's errors as SMTP replies, by {@link GraphException.Kind} (decided from Graph's error code first, the HTTP
 * status second) and, for {@code REJECTED}, by Graph's code: the one table both pass-through and the queue use.
 *
 * <table>
 * <tr><th>kind / code</th><th>pass-through reply</th><th>queue</th></tr>
 * <tr><td>NOT_AUTHORISED (401/403)</td><td>454 4.7.0</td><td>account held (configuration fault), never bounced
 * for it</td></tr>
 * <tr><td>THROTTLED (429, 503, 504)</td><td>451 4.4.5</td><td>account held for Retry-After (else back-off)</td></tr>
 * <tr><td>UNAVAILABLE, SERVER, NOT_FOUND</td><td>451 4.4.1</td><td>account backs off (as an unreachable
 * upstream)</td></tr>
 * <tr><td>QUOTA</td><td>452 4.2.2</td><td>account deferred (quota-deferral)</td></tr>
 * <tr><td>REJECTED ErrorMessageSizeExceeded</td><td>552 5.3.4</td><td>bounced</td></tr>
 * <tr><td>REJECTED ErrorInvalidRecipients</td><td>550 5.1.1</td><td>bounced</td></tr>
 * <tr><td>REJECTED, any other code</td><td>554 5.5.0</td><td>bounced</td></tr>
 * </table>
 *
 * <p>Graph names no recipient in {@code ErrorInvalidRecipients} (docs/research/graph-evidence.md, section 7: "At
 * least one recipient is not valid."), so the reply applies to the whole message. Graph's code is in every reply's
 * text, so the client's log and the bounce say what Graph said.
 */
public final class GraphReplies {

    /** What a failure means for the account's queue. */
    public enum Effect {
        /** 401/403: a missing permission or an access policy; the administrator must act; mail waits. */
        CONFIGURATION,
        /** Graph asked to wait ({@link GraphFailure#retryAfter()}) or is overloaded. */
        THROTTLED,
        /** No answer, or a server error: try again later with back-off. */
        UNAVAILABLE,
        /** Mailbox full or sending quota used up: defer the account. */
        QUOTA,
        /** Permanent for this message: bounce. */
        PERMANENT,
        /** A local failure (reading the message, a temporary file): this message again later; the account is fine. */
        LOCAL
    }

    /**
     * A failure as the client and the queue see it.
     *
     * @param reply  the SMTP reply (pass-through gives it to the client; the queue records it and bounces with it)
     * @param detail Graph's status, code and message (or the failure) and the request's ids, for the log; never a token
     */
    public record GraphFailure(SmtpReply reply, Effect effect, Optional<Duration> retryAfter, String detail) {

        public static GraphFailure permanent(SmtpReply reply, String detail) {
            return new GraphFailure(reply, Effect.PERMANENT, Optional.empty(), detail);
        }

        static GraphFailure local(Throwable failure) {
            return new GraphFailure(SmtpReply.of(451, "4.3.0 Local error in processing"), Effect.LOCAL,
                    Optional.empty(), String.valueOf(failure));
        }
    }

    static final String SIZE_EXCEEDED = "ErrorMessageSizeExceeded";
    static final String INVALID_RECIPIENTS = "ErrorInvalidRecipients";

    private GraphReplies() {
    }

    /** The failure of a Graph call (a {@link GraphException}, possibly wrapped; anything else is "unavailable"). */
    public static GraphFailure of(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (!(t instanceof GraphException g)) {
            return new GraphFailure(SmtpReply.of(451, "4.4.1 Microsoft Graph unavailable, try again later"),
                    Effect.UNAVAILABLE, Optional.empty(), String.valueOf(t));
        }
        String code = g.code().isEmpty() ? "HTTP " + g.status() : g.code();
        String detail = "Graph " + (g.status() == 0 ? "gave no answer" : "answered " + g.status()) + " "
                + g.code() + ": " + g.getMessage() + (g.requestIds().isEmpty() ? "" : " [" + g.requestIds() + "]");
        return switch (g.kind()) {
            case NOT_AUTHORISED -> new GraphFailure(SmtpReply.of(454, "4.7.0 Microsoft Graph refused access ("
                    + code + "); the administrator must grant the permission"), Effect.CONFIGURATION,
                    Optional.empty(), detail);
            case THROTTLED -> new GraphFailure(SmtpReply.of(451, "4.4.5 Microsoft Graph is throttling this mailbox ("
                    + code + "), try again later"), Effect.THROTTLED, g.retryAfter(), detail);
            case QUOTA -> new GraphFailure(SmtpReply.of(452, "4.2.2 Mailbox full or sending quota exceeded (" + code
                    + "), try again later"), Effect.QUOTA, g.retryAfter(), detail);
            case REJECTED -> GraphFailure.permanent(rejected(g.code()), detail);
            case UNAVAILABLE, SERVER, NOT_FOUND -> new GraphFailure(SmtpReply.of(451,
                    "4.4.1 Microsoft Graph unavailable (" + code + "), try again later"), Effect.UNAVAILABLE,
                    g.retryAfter(), detail);
        };
    }

    private static SmtpReply rejected(String code) {
        if (SIZE_EXCEEDED.equals(code)) {
            return SmtpReply.of(552, "5.3.4 Message too big for the mailbox's send limit (" + code + ")");
        }
        if (INVALID_RECIPIENTS.equals(code)) {
            return SmtpReply.of(550, "5.1.1 Microsoft Graph refused at least one recipient as not valid (" + code
                    + "); it does not say which");
        }
        return SmtpReply.of(554, "5.5.0 Microsoft Graph refused the message (" + (code.isEmpty() ? "no code" : code)
                + ")");
    }
}
