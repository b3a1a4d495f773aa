package io.mailproxy.core.pool;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.mailproxy.core.upstream.UpstreamSession;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Supplier;

/**
 * Opens a logged-in upstream connection for a pool and checks that it is fit to pool: still open, and its token
 * lives past {@code min-token-life}. Each gets a little jitter on its retirement, so the connections opened together
 * are not replaced together. Fails with an {@link UpstreamException} (a connection found unfit is closed).
 */
final class PoolOpener {

    private static final Duration MAX_JITTER = Duration.ofMinutes(1);

    private final PoolEnv env;
    private final Protocol protocol;

    PoolOpener(PoolEnv env, Protocol protocol) {
        this.env = env;
        this.protocol = protocol;
    }

    /**
     * @param generation   the pool's configuration generation the account was read in
     * @param minTokenLife read when the connection is up: the pool's setting then
     */
    CompletableFuture<PooledChannel> open(AccountConfig account, long generation, Supplier<Duration> minTokenLife) {
        CompletableFuture<UpstreamSession> f;
        try {
            f = env.connector().connect(account, protocol, null);
        } catch (RuntimeException e) {
            f = CompletableFuture.failedFuture(e);
        }
        return f.handle((session, err) -> {
            if (err != null) {
                throw new CompletionException(asUpstream(err));
            }
            return fit(session, generation, minTokenLife.get());
        });
    }

    private PooledChannel fit(UpstreamSession session, long generation, Duration minTokenLife) {
        Instant now = env.clock().instant();
        PooledChannel pc = new PooledChannel(session, now, jitter(session, now, minTokenLife), generation);
        if (!session.channel().isActive()) {
            session.channel().close();
            throw new CompletionException(new UpstreamException(Kind.UNREACHABLE,
                    "the new upstream connection closed at once"));
        }
        if (!pc.leasable(now, minTokenLife)) {
            session.channel().close();
            throw new CompletionException(new UpstreamException(Kind.CREDENTIALS_UNAVAILABLE, "the access token of "
                    + "the new connection expires at " + session.tokenExpiresAt().orElseThrow()
                    + ", sooner than min-token-life " + minTokenLife + " allows"));
        }
        return pc;
    }

    private Duration jitter(UpstreamSession session, Instant now, Duration minTokenLife) {
        if (session.tokenExpiresAt().isEmpty()) {
            return Duration.ZERO;
        }
        Instant expires = session.tokenExpiresAt().get();
        Duration spare = Duration.between(now, expires).minus(PooledChannel.minLife(minTokenLife, now, expires));
        if (spare.isNegative() || spare.isZero()) {
            return Duration.ZERO;
        }
        Duration most = spare.dividedBy(40).compareTo(MAX_JITTER) < 0 ? spare.dividedBy(40) : MAX_JITTER;
        long maxMillis = most.toMillis();
        return Duration.ofMillis(maxMillis <= 0 ? 0 : env.random().nextLong(maxMillis + 1));
    }

    /** The upstream failure behind {@code err}, whatever wraps it. */
    static UpstreamException asUpstream(Throwable err) {
        Throwable t = err;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof UpstreamException u) {
            return u;
        }
        return new UpstreamException(Kind.UNREACHABLE, "upstream connection failed: " + t, null, t);
    }
}
