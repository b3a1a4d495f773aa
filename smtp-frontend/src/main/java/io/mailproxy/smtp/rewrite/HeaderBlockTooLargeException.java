package io.mailproxy.smtp.rewrite;

/** The header block grew past {@code header-limit} before its empty line: the message is refused with 552. */
public final class HeaderBlockTooLargeException extends Exception {
    private static final long serialVersionUID = 1L;

    public HeaderBlockTooLargeException(int limit) {
        super("header block larger than " + limit + " octets");
    }
}
