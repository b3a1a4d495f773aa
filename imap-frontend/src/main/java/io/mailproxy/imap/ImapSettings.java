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
        Duration tokenHandoverMargin,
        int handoverLimit,
        Duration throttleRetryMaxWait,
        int throttleRetries,
        int maxMessageView,
        int recoveryAttempts,
        Duration recoveryBackoff) {

    /** The default of {@code handover-limit}: 16 MiB. */
    public static final int DEFAULT_HANDOVER_LIMIT = 16 * 1024 * 1024;
    /** The defaults of {@code throttle-retry-max-wait} and {@code throttle-retries}. */
    public static final Duration DEFAULT_THROTTLE_RETRY_MAX_WAIT = Duration.ofSeconds(30);
    public static final int DEFAULT_THROTTLE_RETRIES = 2;

    /** The default of {@code max-message-view}: 100,000 messages (400 KB per session at most). */
    public static final int DEFAULT_MAX_MESSAGE_VIEW = 100_000;
    /** The defaults of {@code recovery-attempts} and {@code recovery-backoff}. */
    public static final int DEFAULT_RECOVERY_ATTEMPTS = 4;
    public static final Duration DEFAULT_RECOVERY_BACKOFF = Duration.ofSeconds(1);

    public static final ImapSettings DEFAULTS = new ImapSettings(65536, 8192, 157_286_400L, 65536, 65536,
            Duration.ofSeconds(60), Duration.ofMinutes(30), "mailproxy ready", Duration.ofMinutes(2),
            DEFAULT_HANDOVER_LIMIT);

    /** Settings with the default throttling retries and recovery settings. */
    public ImapSettings(int maxLineLength, long maxLiteralBeforeLogin, long maxLiteral, int maxBufferedLiteral,
                        int maxFilteredResponse, Duration loginTimeout, Duration idleTimeout, String greeting,
                        Duration tokenHandoverMargin, int handoverLimit) {
        this(maxLineLength, maxLiteralBeforeLogin, maxLiteral, maxBufferedLiteral, maxFilteredResponse, loginTimeout,
                idleTimeout, greeting, tokenHandoverMargin, handoverLimit, DEFAULT_THROTTLE_RETRY_MAX_WAIT,
                DEFAULT_THROTTLE_RETRIES, DEFAULT_MAX_MESSAGE_VIEW, DEFAULT_RECOVERY_ATTEMPTS, DEFAULT_RECOVERY_BACKOFF);
    }

    /** Settings with the default hand-over limit. */
    public ImapSettings(int maxLineLength, long maxLiteralBeforeLogin, long maxLiteral, int maxBufferedLiteral,
                        int maxFilteredResponse, Duration loginTimeout, Duration idleTimeout, String greeting,
                        Duration tokenHandoverMargin) {
        this(maxLineLength, maxLiteralBeforeLogin, maxLiteral, maxBufferedLiteral, maxFilteredResponse, loginTimeout,
                idleTimeout, greeting, tokenHandoverMargin, DEFAULT_HANDOVER_LIMIT);
    }

    public ImapSettings {
        if (maxLineLength < 1024) {
            throw new IllegalArgumentException("mailproxy.imap.max-line-length must be at least 1024, got " + maxLineLength);
        }
        if (maxLiteralBeforeLogin < 0 || maxLiteral < 0 || maxBufferedLiteral < 0 || maxFilteredResponse < 1024) {
            throw new IllegalArgumentException("mailproxy.imap literal and response limits must not be negative");
        }
        if (handoverLimit < 1024) {
            throw new IllegalArgumentException("mailproxy.imap.handover-limit must be at least 1024, got " + handoverLimit);
        }
        if (maxMessageView < 0 || recoveryAttempts < 0 || recoveryBackoff.isNegative()) {
            throw new IllegalArgumentException("mailproxy.imap.max-message-view, recovery-attempts and "
                    + "recovery-backoff must not be negative");
        }
        if (tokenHandoverMargin.isNegative()) {
            throw new IllegalArgumentException("mailproxy.imap.token-handover-margin must not be negative");
        }
        if (throttleRetryMaxWait.isNegative() || throttleRetries < 0) {
            throw new IllegalArgumentException("mailproxy.imap.throttle-retry-max-wait and throttle-retries must not be "
                    + "negative");
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
                c.getDuration("token-handover-margin"),
                c.getBytes("handover-limit").intValue(),
                c.getDuration("throttle-retry-max-wait"),
                c.getInt("throttle-retries"),
                c.getInt("max-message-view"),
                c.getInt("recovery-attempts"),
                c.getDuration("recovery-backoff"));
    }
}
