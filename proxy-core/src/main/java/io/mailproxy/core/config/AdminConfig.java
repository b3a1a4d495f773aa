package io.mailproxy.core.config;

import java.time.Duration;

/**
 * The admin HTTP endpoint (/metrics, /health, /status). {@code admin.enabled = false} turns it off; port 0 picks a
 * free port (tests). {@code requestDeadline}: how long a connection may take, from connect, to send its request and
 * read the answer before it is closed (with 408 when it has not sent a complete request).
 */
public record AdminConfig(boolean enabled, String bind, int port, Duration requestDeadline) {

    /** reference.conf's {@code admin.request-deadline}. */
    public static final Duration DEFAULT_REQUEST_DEADLINE = Duration.ofSeconds(10);

    public AdminConfig {
        if (requestDeadline.isNegative() || requestDeadline.isZero()) {
            throw new IllegalArgumentException("requestDeadline must be positive, got " + requestDeadline);
        }
    }

    /** With the default request deadline. */
    public AdminConfig(boolean enabled, String bind, int port) {
        this(enabled, bind, port, DEFAULT_REQUEST_DEADLINE);
    }
}
