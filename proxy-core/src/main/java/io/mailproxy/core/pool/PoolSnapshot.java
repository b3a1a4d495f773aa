package io.mailproxy.core.pool;

import io.mailproxy.core.Protocol;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * A read-only view of one pool, for {@code /status} and {@code ./mailproxy status}.
 *
 * @param active           connections leased to sessions
 * @param idle             connections ready (being probed or kept alive included)
 * @param pending          connections being opened
 * @param waiting          acquires waiting for a connection
 * @param max              the pool's bound
 * @param minTokenLifeLeft the shortest token life left among the idle connections; empty when none is idle or the
 *                         account logs in with a password
 * @param throttledUntil   while the account backs off after a throttling reply, when it may connect again
 */
public record PoolSnapshot(
        String account,
        Protocol protocol,
        int active,
        int idle,
        int pending,
        int waiting,
        int max,
        Optional<Duration> minTokenLifeLeft,
        Optional<Instant> throttledUntil) { }
