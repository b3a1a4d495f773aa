package io.mailproxy.core.pool;

import io.mailproxy.core.upstream.UpstreamSession;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/** One hand-out of a pooled channel; ending it twice, or from two threads, gives the channel back once. */
final class PooledLease implements Lease {

    private final AccountPool pool;
    private final PooledChannel channel;
    private final AtomicBoolean ended = new AtomicBoolean();

    PooledLease(AccountPool pool, PooledChannel channel) {
        this.pool = pool;
        this.channel = channel;
    }

    @Override
    public UpstreamSession session() {
        return channel.session;
    }

    @Override
    public void release(boolean dirty) {
        if (ended.compareAndSet(false, true)) {
            pool.release(channel, dirty, false);
        }
    }

    @Override
    public void releaseUnused() {
        if (ended.compareAndSet(false, true)) {
            pool.release(channel, false, true);
        }
    }

    @Override
    public void reportThrottled() {
        pool.throttled("reported by a session", null);
    }

    @Override
    public void reportThrottled(Duration backoff) {
        pool.throttled("reported by a session: wait " + backoff, backoff);
    }

    @Override
    public void tokenRejected() {
        pool.tokenRejected(channel);
    }

    @Override
    public String toString() {
        return "Lease[" + pool.name() + " " + channel + "]";
    }
}
