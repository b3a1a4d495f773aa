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
 * @param innerError  whether the error body carries {@code innerError}
 * @param processed   handle the request fully first (send, move, delete ...), then drop the connection instead of
 *                    answering (with {@code disconnect}; {@link #dropAfterProcessing()})
 */
public record GraphFault(int status, String code, String message, OptionalInt retryAfter, boolean disconnect,
                         boolean innerError, boolean processed) {

    public GraphFault(int status, String code, String message, OptionalInt retryAfter, boolean disconnect,
                      boolean innerError) {
        this(status, code, message, retryAfter, disconnect, innerError, false);
    }

    public GraphFault(int status, String code, String message, OptionalInt retryAfter, boolean disconnect) {
        this(status, code, message, retryAfter, disconnect, true);
    }

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

    /**
     * The request is handled completely (a send happens, a message moves) and then the connection is closed before
     * the status line: a "lost 202", where Graph did the work and the client never hears it. What the client sees is
     * what {@link #dropConnection()} gives; what the mailbox holds afterwards differs. The request is logged in
     * {@link FakeGraph#requests()} with status 0.
     */
    public static GraphFault dropAfterProcessing() {
        return new GraphFault(0, "", "", OptionalInt.empty(), true, true, true);
    }

    public GraphFault withRetryAfter(int seconds) {
        return new GraphFault(status, code, message, OptionalInt.of(seconds), disconnect, innerError, processed);
    }

    /**
     * The same error without {@code innerError}: many real Outlook errors arrive so (graph-evidence.md §4; the 429s
     * captured by tools lack it), and concepts/errors.md calls it optional.
     */
    public GraphFault withoutInnerError() {
        return new GraphFault(status, code, message, retryAfter, disconnect, false, processed);
    }
}
