package io.mailproxy.core.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mailproxy.core.graph.GraphException.Kind;
import java.time.Clock;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.Set;

/**
 * Graph's error answers as {@link GraphException}s. The body is {@code {"error":{"code","message","innerError":{...}}}}
 * and clients branch on {@code code}, not the message (microsoft-graph-docs-contrib concepts/errors.md); so the kind
 * is decided by the code first and the HTTP status second. Codes and the statuses they came with:
 * docs/research/graph-evidence.md section 4.
 */
final class GraphErrors {

    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Mailbox or sending quota. ErrorQuotaExceeded came back from sendMail (microsoftgraph/microsoft-graph-docs issues
     * #3935 and #5607: Graph passes Exchange's response codes through); ErrorSubmissionQuotaExceeded is Exchange's
     * "the sender's submission quota was exceeded" (EWS ResponseCode, office-developer-exchange-docs
     * responsecode.md), seen from Graph with status 429 in client code; ErrorQuotaExceededOnDelete is not a
     * quota to defer on, so it is not here.
     */
    private static final Set<String> QUOTA = Set.of("ErrorQuotaExceeded", "ErrorSubmissionQuotaExceeded");
    /**
     * Throttled whatever the status: ApplicationThrottled ("Application is over its MailboxConcurrency limit",
     * evidence section 4), activityLimitReached (concepts/errors.md: "The app or user has been throttled"),
     * ErrorServerBusy (Exchange's own, EWS responsecode.md).
     */
    private static final Set<String> THROTTLED = Set.of("ApplicationThrottled", "activityLimitReached",
            "ErrorServerBusy");
    /**
     * 404s about the mailbox, not the item: a configuration fault. Above all not NOT_FOUND, which {@code message()}
     * reads as "the draft was sent" (MailboxNotEnabledForRESTAPI: no Exchange Online licence or on-premises mailbox;
     * ErrorInvalidUser: no such user; evidence section 4).
     */
    private static final Set<String> MAILBOX = Set.of("MailboxNotEnabledForRESTAPI", "ErrorInvalidUser",
            "MailboxNotSupportedForRESTAPI", "ErrorNonExistentMailbox");

    private GraphErrors() {
    }

    /** Graph's {@code error.code} and {@code error.message} from a (small, bounded) body; empty strings when absent. */
    record Body(String code, String message) {
        static Body parse(String text) {
            if (text == null || text.isBlank()) {
                return new Body("", "");
            }
            try {
                JsonNode error = JSON.readTree(text).path("error");
                return new Body(error.path("code").asText(""), error.path("message").asText(""));
            } catch (java.io.IOException | RuntimeException e) {
                return new Body("", "");
            }
        }
    }

    /** The kind of a Graph error answer. */
    static Kind kind(int status, String code) {
        if (QUOTA.contains(code)) {
            return Kind.QUOTA;
        }
        if (THROTTLED.contains(code)) {
            return Kind.THROTTLED;
        }
        if (MAILBOX.contains(code)) {
            return Kind.NOT_AUTHORISED;
        }
        if ("ErrorItemNotFound".equals(code)) {
            return Kind.NOT_FOUND;
        }
        return switch (status) {
            case 401, 403 -> Kind.NOT_AUTHORISED;
            case 404, 410 -> Kind.NOT_FOUND;
            // concepts/throttling.md: 429 with Retry-After; concepts/errors.md: 503 serviceNotAvailable and 504
            // gatewayTimeout "retry after"; 502 is the front end's bad gateway, as transient
            case 429, 502, 503, 504 -> Kind.THROTTLED;
            default -> status >= 500 ? Kind.SERVER : Kind.REJECTED;
        };
    }

    /**
     * The exception for an error answer; the message says what happened and, for 403, which permission or scoping
     * the call needs. Never holds a token (Graph's messages do not echo it).
     */
    static GraphException exception(GraphOperation op, String mailbox, int status, Body body,
                                    Optional<Duration> retryAfter) {
        Kind kind = kind(status, body.code());
        StringBuilder m = new StringBuilder("Graph ").append(op.metricName).append(" for ").append(mailbox)
                .append(": ").append(status);
        if (!body.code().isEmpty()) {
            m.append(' ').append(body.code());
        }
        if (!body.message().isEmpty()) {
            m.append(" \"").append(firstLine(body.message())).append('"');
        }
        if (status == 403 || "ErrorAccessDenied".equals(body.code())) {
            // a missing permission, or the mailbox outside the app's scope: "Access to OData is disabled."
            // (concepts/auth-limit-mailbox-access.md) or "Access is denied" for RBAC for Applications (evidence 8)
            m.append(" — the app needs the ").append(op.permission).append(" permission (application permission"
                    + " for client credentials, delegated ").append(op.permission).append(" or ")
                    .append(op.permission).append(".Shared otherwise), and with app-only tokens the mailbox must be"
                    + " in the app's scope (Exchange RBAC for Applications or an application access policy)");
        } else if (kind == Kind.NOT_AUTHORISED && status == 401) {
            m.append(" — Graph refused the access token even after a fresh one; check the app registration's"
                    + " tenant and that the token is for ").append("the Graph audience");
        }
        retryAfter.ifPresent(d -> m.append(" (Retry-After ").append(d.toSeconds()).append(" s)"));
        return new GraphException(kind, status, body.code(), m.toString(), retryAfter, null);
    }

    /**
     * {@code Retry-After}: seconds, or an HTTP date (RFC 9110 section 10.2.3). Graph sends seconds for Outlook
     * (concepts/throttling.md); a date in the past is zero.
     */
    static Optional<Duration> retryAfter(Optional<String> header, Clock clock) {
        if (header.isEmpty()) {
            return Optional.empty();
        }
        String v = header.get().trim();
        try {
            long s = Long.parseLong(v);
            return Optional.of(Duration.ofSeconds(Math.max(0, s)));
        } catch (NumberFormatException notSeconds) {
            try {
                ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
                Duration d = Duration.between(clock.instant(), at.toInstant());
                return Optional.of(d.isNegative() ? Duration.ZERO : d);
            } catch (DateTimeParseException bad) {
                return Optional.empty();
            }
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        String line = nl < 0 ? s : s.substring(0, nl);
        return line.length() > 300 ? line.substring(0, 300) + "..." : line;
    }
}
