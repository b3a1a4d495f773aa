package io.mailproxy.core.config;

import java.time.Duration;

/**
 * Daemon-wide limits.
 *
 * @param maxConnections        client connections at once, all listeners together
 * @param maxUnauthenticated    client connections not yet logged in
 * @param shutdownGrace         how long SIGTERM waits for sessions to finish after the goodbye
 * @param argon2Concurrency     Argon2 verifications at once
 * @param loginFailureDelay     how long a failed local login waits for its reply, and, once a login name is
 *                              penalised, the least time between two password checks of that name
 * @param maxLoginFailures      failed local logins one connection may make before the protocol's goodbye
 */
public record LimitsConfig(
        int maxConnections,
        int maxUnauthenticated,
        Duration shutdownGrace,
        int argon2Concurrency,
        Duration loginFailureDelay,
        int maxLoginFailures) {

    public static final Duration DEFAULT_LOGIN_FAILURE_DELAY = Duration.ofSeconds(1);
    public static final int DEFAULT_MAX_LOGIN_FAILURES = 3;

    /** Limits with the default login-failure delay and failures per connection. */
    public LimitsConfig(int maxConnections, int maxUnauthenticated, Duration shutdownGrace, int argon2Concurrency) {
        this(maxConnections, maxUnauthenticated, shutdownGrace, argon2Concurrency, DEFAULT_LOGIN_FAILURE_DELAY,
                DEFAULT_MAX_LOGIN_FAILURES);
    }
}
