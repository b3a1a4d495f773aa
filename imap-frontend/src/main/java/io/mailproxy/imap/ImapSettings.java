package io.mailproxy.imap;

import com.typesafe.config.Config;
import java.time.Duration;

/**
 * The {@code mailproxy.imap} section (see this module's {@code reference.conf} for what each key means).
 */
public record ImapSettings(
        int maxLineLength,
        long maxLiteralBeforeLogin,
        long maxLiteral,
        int maxBufferedLiteral,
        int maxFilteredResponse,
        Duration loginTimeout,
        Duration idleTimeout,
        String greeting,
        Duration tokenHandoverMargin) {

    public static final ImapSettings DEFAULTS = new ImapSettings(65536, 8192, 157_286_400L, 65536, 65536,
            Duration.ofSeconds(60), Duration.ofMinutes(30), "mailproxy ready", Duration.ofMinutes(2));

    public ImapSettings {
        if (maxLineLength < 1024) {
            throw new IllegalArgumentException("mailproxy.imap.max-line-length must be at least 1024, got " + maxLineLength);
        }
        if (maxLiteralBeforeLogin < 0 || maxLiteral < 0 || maxBufferedLiteral < 0 || maxFilteredResponse < 1024) {
            throw new IllegalArgumentException("mailproxy.imap literal and response limits must not be negative");
        }
        if (tokenHandoverMargin.isNegative()) {
            throw new IllegalArgumentException("mailproxy.imap.token-handover-margin must not be negative");
        }
        if (loginTimeout.isNegative() || loginTimeout.isZero() || idleTimeout.isNegative() || idleTimeout.isZero()) {
            throw new IllegalArgumentException("mailproxy.imap timeouts must be positive");
        }
    }

    /** Reads the section (with reference.conf defaults already merged in). */
    public static ImapSettings from(Config c) {
        return new ImapSettings(
                c.getBytes("max-line-length").intValue(),
                c.getBytes("max-literal-before-login"),
                c.getBytes("max-literal"),
                c.getBytes("max-buffered-literal").intValue(),
                c.getBytes("max-filtered-response").intValue(),
                c.getDuration("login-timeout"),
                c.getDuration("idle-timeout"),
                c.getString("greeting"),
                c.getDuration("token-handover-margin"));
    }
}
