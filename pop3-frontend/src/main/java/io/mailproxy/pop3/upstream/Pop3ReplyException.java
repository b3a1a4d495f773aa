package io.mailproxy.pop3.upstream;

import io.mailproxy.pop3.codec.Pop3Response;

/** Opening a maildrop failed with a reply chosen for the client (e.g. {@code -ERR [SYS/PERM]}). */
public final class Pop3ReplyException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient Pop3Response reply;

    /** @param logMessage what the log says (never a secret) */
    public Pop3ReplyException(Pop3Response reply, String logMessage) {
        super(logMessage);
        this.reply = reply;
    }

    public Pop3Response reply() {
        return reply;
    }
}
