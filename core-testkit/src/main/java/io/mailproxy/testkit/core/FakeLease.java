package io.mailproxy.testkit.core;

import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.upstream.UpstreamSession;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;

/**
 * A lease over a channel the test controls. It records every way it was ended ({@link #endings}: each call, so a
 * second end shows) and the handlers left on the channel at the end; its pool's counters and end action see only the
 * first end, as a real pool does ({@link Lease} ends are idempotent).
 */
public final class FakeLease implements Lease {

    /** How a lease ended. */
    public enum End { RELEASED, RELEASED_DIRTY, DISCARDED }

    private final UpstreamSession session;
    private final BiConsumer<FakeLease, End> onFirstEnd;
    private final AtomicBoolean ended = new AtomicBoolean();
    /** "release(clean)", "release(dirty)" or "discard", one per call. */
    public final List<String> endings = new CopyOnWriteArrayList<>();
    /** The channel's handler names when the lease was (last) ended. */
    public volatile List<String> handlersAtEnd;
    /** Times the session reported that the upstream throttled the account. */
    public final java.util.concurrent.atomic.AtomicInteger throttleReports = new java.util.concurrent.atomic.AtomicInteger();
    /** What the session reported with {@link #reportThrottled(java.time.Duration)}: the upstream's suggested waits. */
    public final List<java.time.Duration> throttled = new CopyOnWriteArrayList<>();
    /** The session told the pool that the upstream no longer takes this lease's token. */
    public volatile boolean tokenRejected;

    public FakeLease(UpstreamSession session) {
        this(session, (lease, end) -> { });
    }

    /** @param onFirstEnd called once, at the first release or discard */
    public FakeLease(UpstreamSession session, BiConsumer<FakeLease, End> onFirstEnd) {
        this.session = session;
        this.onFirstEnd = onFirstEnd;
    }

    @Override
    public UpstreamSession session() {
        return session;
    }

    @Override
    public void release(boolean dirty) {
        end(dirty ? End.RELEASED_DIRTY : End.RELEASED, dirty ? "release(dirty)" : "release(clean)");
    }

    @Override
    public void discard() {
        end(End.DISCARDED, "discard");
    }

    @Override
    public void reportThrottled() {
        throttleReports.incrementAndGet();
    }

    @Override
    public void reportThrottled(java.time.Duration backoff) {
        throttled.add(backoff);
    }

    @Override
    public void tokenRejected() {
        tokenRejected = true;
    }

    /** True once released or discarded. */
    public boolean ended() {
        return ended.get();
    }

    private void end(End how, String ending) {
        handlersAtEnd = session.channel().pipeline().names();
        endings.add(ending);
        if (ended.compareAndSet(false, true)) {
            onFirstEnd.accept(this, how);
        }
    }
}
