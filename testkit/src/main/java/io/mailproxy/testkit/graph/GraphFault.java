package io.mailproxy.testkit.graph;

import java.util.OptionalInt;

/**
 * What a faulty request gets instead of its answer ({@link FakeGraph#failNext(int, GraphFault)}): an error in Graph's
 * body format, or a connection dropped.
 *
 * @param status      HTTP status
 * @param code        Graph's error code ({@code error.code})
 * @param message     {@code error.message}
 * @param retryAfter  the {@code Retry-After} header in seconds, if any
 * @param disconnect  drop the connection without answering
 */
public record GraphFault(int status, String code, String message, OptionalInt retryAfter, boolean disconnect) {

    /**
     * 429 as Outlook throttles (code and message as observed, graph-evidence.md §4: terraform-provider-outlook #21,
     * corso #3695; Retry-After in seconds: MGDC concepts/throttling.md).
     */
    public static GraphFault throttled(int retryAfterSeconds) {
        return new GraphFault(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                OptionalInt.of(retryAfterSeconds), false);
    }

    /** 503 {@code serviceNotAvailable} with Retry-After (MGDC concepts/errors.md lists the code and the header). */
    public static GraphFault unavailable(int retryAfterSeconds) {
        return new GraphFault(503, "serviceNotAvailable",
                "The service is temporarily unavailable for maintenance or is overloaded. You may repeat the request"
                        + " after a delay, which may be specified in a Retry-After header.",
                OptionalInt.of(retryAfterSeconds), false);
    }

    /** 504 {@code UnknownError} (MGDC user-list-messages.md: large pages may time out; the code is (U)). */
    public static GraphFault gatewayTimeout(int retryAfterSeconds) {
        return new GraphFault(504, "UnknownError", "", OptionalInt.of(retryAfterSeconds), false);
    }

    /** Any status and Graph error code, no Retry-After. */
    public static GraphFault of(int status, String code, String message) {
        return new GraphFault(status, code, message, OptionalInt.empty(), false);
    }

    /** The connection is closed with no answer at all. */
    public static GraphFault dropConnection() {
        return new GraphFault(0, "", "", OptionalInt.empty(), true);
    }

    public GraphFault withRetryAfter(int seconds) {
        return new GraphFault(status, code, message, OptionalInt.of(seconds), disconnect);
    }
}
