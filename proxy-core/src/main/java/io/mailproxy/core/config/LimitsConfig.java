package io.mailproxy.core.config;

import java.time.Duration;

/**
 * Daemon-wide limits.
 *
 * @param maxConnections                client connections at once, all listeners together
 * @param maxUnauthenticated            client connections not yet logged in; a new one beyond it takes the place of
 *                                      the oldest, which is closed
 * @param shutdownGrace                 how long SIGTERM waits for sessions to finish after the goodbye
 * @param argon2Concurrency             Argon2 verifications at once
 * @param maxUnauthenticatedPerAddress  connections not yet logged in from one non-loopback address; a new one beyond
 *                                      it is refused
 * @param maxFixedClientPerAddress      connections to fixed-client listeners from one non-loopback address; a new
 *                                      one beyond it is refused (open ones are never closed for it)
 * @param loginFailureDelay             how long a failed local login waits for its reply, and, once a login name is
 *                                      penalised, the least time between two password checks of that name
 * @param maxLoginFailures              failed local logins one connection may make before the protocol's goodbye
 */
public record LimitsConfig(
        int maxConnections,
        int maxUnauthenticated,
        Duration shutdownGrace,
        int argon2Concurrency,
        int maxUnauthenticatedPerAddress,
        int maxFixedClientPerAddress,
        Duration loginFailureDelay,
        int maxLoginFailures) {

    /** reference.conf's per-address limits. */
    public static final int DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS = 20;
    public static final int DEFAULT_MAX_FIXED_CLIENT_PER_ADDRESS = 10;
    /** reference.conf's login-failure limits. */
    public static final Duration DEFAULT_LOGIN_FAILURE_DELAY = Duration.ofSeconds(1);
    public static final int DEFAULT_MAX_LOGIN_FAILURES = 3;

    /** With reference.conf's per-address and login-failure limits. */
    public LimitsConfig(int maxConnections, int maxUnauthenticated, Duration shutdownGrace, int argon2Concurrency) {
        this(maxConnections, maxUnauthenticated, shutdownGrace, argon2Concurrency,
                DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS, DEFAULT_MAX_FIXED_CLIENT_PER_ADDRESS);
    }

    /** With reference.conf's login-failure limits. */
    public LimitsConfig(int maxConnections, int maxUnauthenticated, Duration shutdownGrace, int argon2Concurrency,
                        int maxUnauthenticatedPerAddress, int maxFixedClientPerAddress) {
        this(maxConnections, maxUnauthenticated, shutdownGrace, argon2Concurrency, maxUnauthenticatedPerAddress,
                maxFixedClientPerAddress, DEFAULT_LOGIN_FAILURE_DELAY, DEFAULT_MAX_LOGIN_FAILURES);
    }
}
