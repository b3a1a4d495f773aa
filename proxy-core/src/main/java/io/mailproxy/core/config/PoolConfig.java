package io.mailproxy.core.config;

import java.time.Duration;

/**
 * Pool settings for one account and protocol (DESIGN rule 4).
 *
 * @param max              most connections at once (Office 365: SMTP 3 per mailbox)
 * @param minIdle          authenticated connections kept ready
 * @param acquireTimeout   how long a lease waits for a free connection before "limit reached"
 * @param minTokenLife     a channel is leased only with at least this much token life left
 * @param idleProbeAfter   a channel idle longer than this is probed with NOOP before reuse
 * @param idleTimeout      an idle channel above min-idle is closed after this
 * @param keepAlive        idle channels get a NOOP this often
 */
public record PoolConfig(
        int max,
        int minIdle,
        Duration acquireTimeout,
        Duration minTokenLife,
        Duration idleProbeAfter,
        Duration idleTimeout,
        Duration keepAlive) {

    /** For protocols that are never pooled (POP3). */
    public static final PoolConfig NOT_POOLED = new PoolConfig(0, 0, Duration.ofSeconds(10),
            Duration.ofMinutes(10), Duration.ofSeconds(30), Duration.ofMinutes(5), Duration.ofMinutes(4));
}
