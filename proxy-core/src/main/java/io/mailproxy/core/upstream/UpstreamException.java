package io.mailproxy.core.upstream;

import java.util.Optional;

/**
 * A typed upstream outcome. {@link #upstreamReply()} keeps the upstream's own text (never a secret), for the log
 * and, where DESIGN says so, for the client.
 */
public final class UpstreamException extends Exception {
    private static final long serialVersionUID = 1L;

    public enum Kind {
        /** TCP connect failed or the connection dropped before login. */
        UNREACHABLE,
        /** Handshake failed, certificate or hostname not trusted, or bytes injected after STARTTLS. */
        TLS_FAILURE,
        /** The upstream refused our credentials or token. */
        CREDENTIALS_REJECTED,
        /** 432 4.3.2, 550 5.2.251-255, or Office 365's post-login BAD: back off. */
        THROTTLED,
        /** 554 5.2.0 SubmissionQuotaExceeded. */
        QUOTA,
        /** Connect, handshake or reply timed out. */
        TIMED_OUT,
        /** No token or secret to log in with (token endpoint down, refresh token missing, secret not stored). */
        CREDENTIALS_UNAVAILABLE,
        /** The account's pool is at its maximum and the bounded wait ran out. */
        LIMIT_REACHED,
        /** The upstream said something the protocol does not allow. */
        PROTOCOL_ERROR
    }

    private final Kind kind;
    private final String upstreamReply;

    public UpstreamException(Kind kind, String message) {
        this(kind, message, null, null);
    }

    public UpstreamException(Kind kind, String message, String upstreamReply, Throwable cause) {
        super(message, cause);
        this.kind = kind;
        this.upstreamReply = upstreamReply;
    }

    public Kind kind() {
        return kind;
    }

    public Optional<String> upstreamReply() {
        return Optional.ofNullable(upstreamReply);
    }

    @Override
    public String toString() {
        return "UpstreamException[" + kind + "]: " + getMessage()
                + (upstreamReply == null ? "" : " (upstream said: " + upstreamReply + ")");
    }
}
