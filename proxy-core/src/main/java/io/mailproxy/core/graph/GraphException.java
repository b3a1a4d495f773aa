package io.mailproxy.core.graph;

import java.time.Duration;
import java.util.Optional;

/**
 * A Graph request that did not succeed: Graph's answer (HTTP status, {@code error.code}, {@code error.message}), or
 * why no answer came. The message never holds a token.
 */
public final class GraphException extends RuntimeException {

    /** What the caller may do: decided by Graph's error code first, the HTTP status second. */
    public enum Kind {
        /** 401, or 403 for a missing permission or an access policy: a configuration fault; retrying will not help. */
        NOT_AUTHORISED,
        /** 429, 503, 504 (and 502): try again after {@link #retryAfter()} (Graph's Retry-After) or a back-off. */
        THROTTLED,
        /** No answer: connect, TLS, timeout, the token endpoint down; try again later. */
        UNAVAILABLE,
        /** The mailbox is full or its sending quota is used up: defer the account. */
        QUOTA,
        /** 404: the message (or folder, or mailbox) is not there. */
        NOT_FOUND,
        /** Permanent for this request: invalid recipients, message too big, malformed MIME (a 4xx other than the above). */
        REJECTED,
        /** A 5xx other than the above: try again later. */
        SERVER
    }

    private final Kind kind;
    private final int status;
    private final String code;
    private final transient Optional<Duration> retryAfter;
    private final String requestIds;

    /**
     * @param status the HTTP status, 0 when no answer came
     * @param code   Graph's {@code error.code} ("" when none)
     */
    public GraphException(Kind kind, int status, String code, String message, Optional<Duration> retryAfter,
                          Throwable cause) {
        this(kind, status, code, message, retryAfter, cause, "");
    }

    /** @param requestIds {@link #requestIds()} */
    public GraphException(Kind kind, int status, String code, String message, Optional<Duration> retryAfter,
                          Throwable cause, String requestIds) {
        super(message, cause);
        this.kind = kind;
        this.status = status;
        this.code = code;
        this.retryAfter = retryAfter;
        this.requestIds = requestIds;
    }

    /** The same answer with the ids of the request it came to. */
    GraphException withRequestIds(String ids) {
        return new GraphException(kind, status, code, getMessage(), retryAfter, getCause(), ids);
    }

    public Kind kind() {
        return kind;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public Optional<Duration> retryAfter() {
        return retryAfter;
    }

    /**
     * {@code client-request-id …, request-id …} of the request Graph answered, for a log line an administrator may
     * quote to Microsoft support; "" when no answer came.
     */
    public String requestIds() {
        return requestIds;
    }
}
