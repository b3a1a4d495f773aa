package io.mailproxy.core.imap;

/**
 * Streams the untagged responses of one command (for FETCH of message bodies: never buffered whole). Called on the
 * channel's event loop. The messages are released by {@link ImapClient} after each call: {@code retain()} what you
 * keep. To apply backpressure call {@link ImapClient#suspendReading()} and later {@link ImapClient#resumeReading()}.
 */
public interface ImapResponseListener {

    /** A line segment of an untagged response (see {@link ImapResponseLine} for how responses are cut). */
    default void untagged(ImapResponseLine line) { }

    /** A piece of a literal inside an untagged response. */
    default void literal(ImapLiteralChunk chunk) { }

    /**
     * A continuation request ({@code + ...}). The default fails the command (and closes the connection, whose state
     * is then unknown); a command that expects one answers with {@link ImapClient#write}.
     *
     * @return false to fail the command
     */
    default boolean continuation(ImapResponseLine line, ImapClient client) {
        return false;
    }
}
