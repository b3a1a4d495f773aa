package io.mailproxy.imap.codec;

/**
 * Emitted by {@link ImapCommandDecoder} instead of a command that broke a limit.
 *
 * @param tag          the command's tag when it could be read, else {@code "*"}
 * @param midCommand   true when earlier segments of the same command were already emitted
 * @param recoverable  true when the decoder can go on with the next command (the line was skipped, or a
 *                     synchronizing literal was refused before the client sent it)
 */
public record ImapCommandError(Kind kind, String tag, boolean midCommand, boolean recoverable) {

    public enum Kind { LINE_TOO_LONG, LITERAL_TOO_LARGE }

    /** The text for the client's BAD. */
    public String reason() {
        return kind == Kind.LINE_TOO_LONG ? "Command line too long" : "Literal too large";
    }
}
