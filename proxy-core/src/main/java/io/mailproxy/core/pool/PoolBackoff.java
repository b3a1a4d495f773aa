package io.mailproxy.core.pool;

import java.time.Duration;
import java.time.Instant;

/**
 * How one pool backs off from its upstream: after a throttling reply no new connections until the pause ends, and
 * after a failed connection no pre-warming for a while; both pauses double up to {@link PoolEnv#throttleMax} and
 * start over once a connection opens. Guarded by the pool's monitor.
 */
final class PoolBackoff {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AccountPool.class);

    private final PoolEnv env;
    private Instant throttledUntil;
    private Duration nextThrottle;
    private Instant prewarmNotBefore;
    private Duration nextRetry;

    PoolBackoff(PoolEnv env) {
        this.env = env;
        this.nextThrottle = env.throttleInitial();
        this.nextRetry = env.retryInitial();
    }

    boolean throttled(Instant now) {
        return throttledUntil != null && now.isBefore(throttledUntil);
    }

    /** The end of the current throttling pause (meaningful while {@link #throttled}). */
    Instant throttledUntil() {
        return throttledUntil;
    }

    /** @return the pause that starts now, or null when one is running already */
    Duration startThrottle(Instant now) {
        if (throttled(now)) {
            return null;
        }
        Duration pause = nextThrottle;
        throttledUntil = now.plus(pause);
        nextThrottle = min(nextThrottle.multipliedBy(2), env.throttleMax());
        return pause;
    }

    /**
     * A pause the upstream asked for ({@code wanted}, up to {@link PoolEnv#throttleMax}): the running one is made
     * longer if it would end sooner; the doubling of the next pause is left alone.
     *
     * @return the pause that starts now, or null when the running one lasts long enough
     */
    Duration startThrottle(Instant now, Duration wanted) {
        Duration pause = min(wanted, env.throttleMax());
        if (throttled(now) && !now.plus(pause).isAfter(throttledUntil)) {
            return null;
        }
        throttledUntil = now.plus(pause);
        return pause;
    }

    /**
     * The upstream throttles the account (for {@code wanted} when it said how long, else null: the doubling pause);
     * logged, under the pool's logger, when a pause starts or grows.
     */
    void throttle(Instant now, Duration wanted, String pool, String why) {
        Duration pause = wanted == null ? startThrottle(now) : startThrottle(now, wanted);
        if (pause != null) {
            LOG.warn("{}: the upstream throttles this account ({}); no new connections for {}", pool, why, pause);
        }
    }

    /** A connection opened: the next pauses start from the initial ones again. */
    void connected() {
        nextThrottle = env.throttleInitial();
        nextRetry = env.retryInitial();
        prewarmNotBefore = null;
    }

    /** A connection could not be opened: no pre-warming for the next retry pause. */
    void connectFailed(Instant now) {
        prewarmNotBefore = now.plus(nextRetry);
        nextRetry = min(nextRetry.multipliedBy(2), env.throttleMax());
    }

    /** Whether idle connections may be opened ahead of demand now. */
    boolean mayPrewarm(Instant now) {
        return !throttled(now) && (prewarmNotBefore == null || !now.isBefore(prewarmNotBefore));
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
