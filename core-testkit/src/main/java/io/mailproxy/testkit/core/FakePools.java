package io.mailproxy.testkit.core;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamSession;
import io.netty.channel.Channel;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;

/**
 * Pools whose acquire answers, in order: the leases and failures a test scripted ({@link #nextLease},
 * {@link #nextFailure}), else {@link #failWith} when set, else a session from the {@link #opening opener} (a fresh
 * connection per lease), else {@code UNREACHABLE "no lease"}. Counts how leases end (each lease's first end only).
 */
public final class FakePools implements UpstreamPools {

    private final Queue<Object> scripted = new ConcurrentLinkedQueue<>();
    private volatile BiFunction<AccountConfig, Protocol, CompletableFuture<UpstreamSession>> opener;
    private volatile BiConsumer<FakeLease, FakeLease.End> onEnd = (lease, end) -> { };
    /** When set, every acquire not scripted fails with it. */
    public volatile UpstreamException failWith;

    /** Every lease handed out, in order. */
    public final List<FakeLease> handedOut = new CopyOnWriteArrayList<>();
    /** The accounts acquire was asked for, in order. */
    public final List<AccountConfig> requested = new CopyOnWriteArrayList<>();
    public final AtomicInteger acquired = new AtomicInteger();
    public final AtomicInteger released = new AtomicInteger();
    public final AtomicInteger releasedDirty = new AtomicInteger();
    public final AtomicInteger discarded = new AtomicInteger();
    /** Released clean with handlers still on the channel or AUTO_READ on: a breach of the {@link Lease} contract. */
    public final AtomicInteger releasedUnclean = new AtomicInteger();

    /** Leases not scripted come from {@code opener} (e.g. a connection to a fake upstream, greeting done). */
    public FakePools opening(BiFunction<AccountConfig, Protocol, CompletableFuture<UpstreamSession>> opener) {
        this.opener = opener;
        return this;
    }

    /** What to do with a lease's channel at its first end (close it, say QUIT; by default nothing). */
    public FakePools onEnd(BiConsumer<FakeLease, FakeLease.End> action) {
        this.onEnd = action;
        return this;
    }

    /** The next acquire hands out a lease over {@code session}. */
    public FakeLease nextLease(UpstreamSession session) {
        FakeLease lease = newLease(session);
        scripted.add(lease);
        return lease;
    }

    /** The next acquire hands out an IMAP lease over {@code upstream}, whose login left these capabilities. */
    public FakeLease nextLease(Channel upstream, String... capabilities) {
        return nextLease(upstream, Optional.empty(), capabilities);
    }

    /** Same, with a token expiring at {@code expires}. */
    public FakeLease nextLease(Channel upstream, Optional<Instant> expires, String... capabilities) {
        return nextLease(new UpstreamSession(Protocol.IMAP, upstream, "* OK ready", Set.of(capabilities), expires));
    }

    /** The next acquire fails with {@code e}. */
    public void nextFailure(UpstreamException e) {
        scripted.add(e);
    }

    /** Leases ended so far (first ends only). */
    public int ended() {
        return released.get() + releasedDirty.get() + discarded.get();
    }

    @Override
    public CompletableFuture<Lease> acquire(AccountConfig account, Protocol protocol) {
        requested.add(account);
        Object next = scripted.poll();
        if (next instanceof UpstreamException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (next instanceof FakeLease lease) {
            return CompletableFuture.completedFuture(handOut(lease));
        }
        UpstreamException fail = failWith;
        if (fail != null) {
            return CompletableFuture.failedFuture(fail);
        }
        BiFunction<AccountConfig, Protocol, CompletableFuture<UpstreamSession>> open = opener;
        if (open == null) {
            return CompletableFuture.failedFuture(new UpstreamException(UpstreamException.Kind.UNREACHABLE, "no lease"));
        }
        return open.apply(account, protocol).thenApply(session -> handOut(newLease(session)));
    }

    private Lease handOut(FakeLease lease) {
        acquired.incrementAndGet();
        handedOut.add(lease);
        return lease;
    }

    private FakeLease newLease(UpstreamSession session) {
        return new FakeLease(session, (lease, end) -> {
            Channel ch = lease.session().channel();
            switch (end) {
                case RELEASED -> {
                    if (handlersLeft(ch) || ch.config().isAutoRead()) {
                        releasedUnclean.incrementAndGet();
                    }
                    released.incrementAndGet();
                }
                case RELEASED_DIRTY -> releasedDirty.incrementAndGet();
                case DISCARDED -> discarded.incrementAndGet();
                default -> throw new IllegalStateException(end.name());
            }
            onEnd.accept(lease, end);
        });
    }

    /** Handlers other than {@code "tls"} (which the session leaves alone) still on the channel. */
    private static boolean handlersLeft(Channel ch) {
        return ch.pipeline().toMap().keySet().stream().anyMatch(name -> !name.equals("tls"));
    }
}
