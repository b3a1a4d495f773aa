package io.mailproxy.core.config;

import java.time.Duration;

/**
 * Daemon-wide limits.
 *
 * @param maxConnections        client connections at once, all listeners together
 * @param maxUnauthenticated    client connections not yet logged in
 * @param shutdownGrace         how long SIGTERM waits for sessions to finish after the goodbye
 * @param argon2Concurrency     Argon2 verifications at once
 */
public record LimitsConfig(
        int maxConnections,
        int maxUnauthenticated,
        Duration shutdownGrace,
        int argon2Concurrency) { }
