package io.mailproxy.core.pool;

import io.mailproxy.core.upstream.UpstreamSession;
import io.netty.channel.Channel;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One pooled upstream connection and its bookkeeping (HikariCP's {@code PoolEntry}). Ownership is {@link #state}:
 * a lease is exclusive because only one party can move it out of {@link State#LEASED}.
 */
final class PooledChannel {

    enum State {
        /** Ready, in the idle deque, watched for the upstream ending it. */
        IDLE,
        /** Joining the idle set, being probed or kept alive: will be idle again (or closed) shortly. */
        CHECKING,
        /** Taken for a waiter; the hand-over runs on the channel's event loop. */
        HANDING,
        /** Exclusively used by one lease. */
        LEASED,
        /** Given back; the reset runs. */
        RESETTING,
        /** Removed from the pool and closed. */
        RETIRED
    }

    final UpstreamSession session;
    final Instant createdAt;
    /** How much earlier than the bare token-life rule this channel retires, so replacements spread out. */
    final Duration jitter;
    final AtomicReference<State> state = new AtomicReference<>(State.CHECKING);
    /** Guarded by the pool: when it was last given back (or created), for idle eviction. */
    Instant idleSince;
    /** Guarded by the pool: when the upstream last proved alive (login, reset, NOOP), for probing and keep-alive. */
    Instant lastVerified;

    /** The pool's configuration generation it was opened for (a reload that moves the account makes it stale). */
    final long generation;

    PooledChannel(UpstreamSession session, Instant createdAt, Duration jitter, long generation) {
        this.generation = generation;
        this.session = session;
        this.createdAt = createdAt;
        this.jitter = jitter;
        this.idleSince = createdAt;
        this.lastVerified = createdAt;
    }

    Channel channel() {
        return session.channel();
    }

    Optional<Instant> tokenExpiresAt() {
        return session.tokenExpiresAt();
    }

    /** When it stops being leasable: {@code minTokenLife} (plus jitter) before the token expires; null if never. */
    Instant retireAt(Duration minTokenLife) {
        return session.tokenExpiresAt().map(exp -> exp.minus(minLife(minTokenLife, createdAt, exp)).minus(jitter))
                .orElse(null);
    }

    /**
     * The token life a lease needs: {@code min-token-life}, unless the token had no more than that when the
     * connection was made. The token service hands out a cached token only while it has min-token-life left, so
     * such a token comes from an identity provider that issues short-lived ones (Keycloak's default is 5 minutes,
     * Entra ID's configurable minimum is 10): then the connection is leased until the last fifth of its token's
     * life, instead of never (which left such an account unavailable for good).
     */
    static Duration minLife(Duration minTokenLife, Instant createdAt, Instant expiresAt) {
        Duration life = Duration.between(createdAt, expiresAt);
        return life.compareTo(minTokenLife) > 0 ? minTokenLife : life.dividedBy(5);
    }

    boolean leasable(Instant now, Duration minTokenLife) {
        Instant retireAt = retireAt(minTokenLife);
        return retireAt == null || now.isBefore(retireAt);
    }

    @Override
    public String toString() {
        return "PooledChannel[" + channel().id().asShortText() + " " + state.get() + "]";
    }
}
