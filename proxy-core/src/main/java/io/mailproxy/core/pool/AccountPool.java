package io.mailproxy.core.pool;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.PoolConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.netty.channel.Channel;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pool of one account and protocol (HikariCP's {@code HikariPool} in spirit, Netty's {@code ChannelPool} in
 * shape).
 *
 * <p>Concurrency: the bookkeeping (idle deque, waiter queue, counts) is guarded by this object's monitor and never
 * does I/O while holding it; what must happen outside (completing a future, talking to the upstream, closing a
 * channel) is collected as actions and run after the monitor is released. Anything touching a channel's pipeline
 * runs on that channel's event loop. A channel's ownership is its {@link PooledChannel#state}.
 */
final class AccountPool {

    private static final Logger log = LoggerFactory.getLogger(AccountPool.class);

    private final PoolEnv env;
    private final String accountName;
    private final Protocol protocol;
    private final String name;
    private final PoolMetrics metrics;
    private final PoolCommands commands;
    private final PoolOpener opener;

    private volatile AccountConfig account;
    private volatile PoolConfig config;
    /** Where and as whom this pool's connections log in; a reload that changes it makes them all stale. */
    private volatile ConnectionTarget target;
    /** Bumped (under this monitor) when {@link #target} changes; a channel of an older generation is not reused. */
    private volatile long generation;

    /** What a connection was opened for: mailbox, credentials and the upstream's endpoints and trust. */
    private record ConnectionTarget(String mailbox, String upstreamName, AuthConfig auth, UpstreamConfig upstream) { }

    // Guarded by this.
    private final PoolChannels channels = new PoolChannels();
    private final ArrayDeque<PooledChannel> idle = channels.idle;
    private final ArrayDeque<Waiter> waiters = new ArrayDeque<>();
    private final PoolBackoff backoff;
    private int pending;
    private boolean closed;
    private UpstreamException closedReason;

    AccountPool(PoolEnv env, AccountConfig account, Protocol protocol) {
        this.env = env;
        this.accountName = account.name();
        this.protocol = protocol;
        this.name = account.name() + "/" + protocol.configName();
        this.account = account;
        this.config = account.pool(protocol);
        this.backoff = new PoolBackoff(env);
        this.commands = new PoolCommands(env, protocol);
        this.opener = new PoolOpener(env, protocol);
        this.metrics = new PoolMetrics(env.meters(), accountName, protocol.configName(), this);
    }

    String name() {
        return name;
    }

    PoolConfig config() {
        return config;
    }

    // ---------------------------------------------------------------- acquire

    CompletableFuture<Lease> acquire() {
        Waiter w = new Waiter(env.clock().instant());
        List<Runnable> after = new ArrayList<>();
        synchronized (this) {
            if (closed) {
                return CompletableFuture.failedFuture(closedReason);
            }
            try {
                w.timeout = env.scheduler().schedule(() -> timeout(w), config.acquireTimeout().toMillis(),
                        TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                return CompletableFuture.failedFuture(new UpstreamException(Kind.UNREACHABLE,
                        "mailproxy is shutting down", null, e));
            }
            waiters.addLast(w);
            afterChangeLocked(after);
        }
        run(after);
        return w.future;
    }

    private void timeout(Waiter w) {
        boolean atMax;
        synchronized (this) {
            if (!waiters.remove(w)) {
                return; // served (or being handed a channel) meanwhile
            }
            atMax = counts().total() >= config.max();
        }
        UpstreamException e;
        if (atMax) {
            metrics.limitHit();
            e = new UpstreamException(Kind.LIMIT_REACHED, "all " + config.max() + " " + protocol.configName()
                    + " connections of account " + accountName + " stayed in use for " + config.acquireTimeout());
            log.info("{}: connection limit reached ({} in use), acquire failed after {}", name, config.max(),
                    config.acquireTimeout());
        } else {
            e = new UpstreamException(Kind.TIMED_OUT, "no upstream " + protocol.configName()
                    + " connection for account " + accountName + " within " + config.acquireTimeout());
            log.info("{}: no upstream connection within {}", name, config.acquireTimeout());
        }
        w.future.completeExceptionally(e);
    }

    /** Serves waiters from the idle channels in FIFO order, then opens connections for the ones left over. */
    private void dispatchLocked(List<Runnable> after) {
        if (closed) {
            return;
        }
        Instant now = env.clock().instant();
        PoolConfig cfg = config;
        int probing = 0; // each probe started here will serve one waiter when it succeeds
        while (waiters.size() > probing) {
            PooledChannel pc = idle.pollFirst();
            if (pc == null) {
                break;
            }
            if (!pc.channel().isActive()) {
                retireLocked(pc, "closed-by-upstream", after);
            } else if (!pc.leasable(now, cfg.minTokenLife())) {
                retireLocked(pc, "token-expiring", after);
            } else if (Duration.between(pc.lastVerified, now).compareTo(cfg.idleProbeAfter()) > 0) {
                pc.state.set(PooledChannel.State.CHECKING);
                probing++;
                after.add(() -> onLoop(pc, () -> probe(pc)));
            } else {
                Waiter w = waiters.pollFirst();
                pc.state.set(PooledChannel.State.HANDING);
                after.add(() -> onLoop(pc, () -> handOver(pc, w)));
            }
        }
        PoolChannels.Counts c = counts();
        int uncovered = waiters.size() - c.checking() - c.pending() - c.resetting();
        if (uncovered <= 0) {
            return;
        }
        if (backoff.throttled(now)) {
            UpstreamException e = new UpstreamException(Kind.THROTTLED, "the upstream throttles account "
                    + accountName + "; no new " + protocol.configName() + " connections until "
                    + backoff.throttledUntil());
            for (int i = 0; i < uncovered; i++) {
                Waiter w = waiters.pollLast();
                after.add(() -> w.fail(e));
            }
            return;
        }
        int room = cfg.max() - c.total();
        for (Waiter w : waiters) {
            if (uncovered <= 0 || room <= 0) {
                break;
            }
            if (!w.creating) {
                w.creating = true;
                pending++;
                room--;
                uncovered--;
                after.add(() -> create(w));
            }
        }
    }

    private void handOver(PooledChannel pc, Waiter w) {
        Channel ch = pc.channel();
        IdleWatchHandler.stop(ch);
        List<Runnable> after = new ArrayList<>();
        boolean lost;
        synchronized (this) {
            lost = closed || !ch.isActive();
            if (lost) {
                retireLocked(pc, closed ? "pool-closed" : "closed-by-upstream", after);
                if (closed) {
                    after.add(() -> w.fail(closedReason));
                } else if (!w.future.isDone()) {
                    waiters.addFirst(w); // the channel died in the instant it was handed: try again first
                }
                afterChangeLocked(after);
            } else {
                pc.state.set(PooledChannel.State.LEASED);
            }
        }
        if (lost) {
            run(after);
            return;
        }
        PooledLease lease = new PooledLease(this, pc);
        metrics.leased(Duration.between(w.start, env.clock().instant()));
        if (w.future.complete(lease)) {
            w.timeout.cancel(false);
            log.debug("{}: leased {}", name, pc);
        } else {
            pc.state.set(PooledChannel.State.CHECKING); // the caller gave up; the channel was never used
            makeIdle(pc, false);
        }
    }

    // ---------------------------------------------------------------- creation

    private void create(Waiter w) {
        long gen = generation; // before reading the account: adopt() sets the account, then bumps the generation
        opener.open(account, gen, () -> config.minTokenLife()).whenComplete((pc, err) -> {
            if (err != null) {
                onCreateFailed(w, PoolOpener.asUpstream(err));
            } else {
                onCreated(w, pc);
            }
        });
    }

    private void onCreated(Waiter w, PooledChannel pc) {
        boolean keep;
        boolean stale;
        List<Runnable> afterStale = new ArrayList<>();
        synchronized (this) {
            pending--;
            if (w != null) {
                w.creating = false;
            }
            stale = !closed && pc.generation != generation;
            keep = !closed && !stale;
            if (stale) {
                afterChangeLocked(afterStale); // opens one for the new target if a waiter still needs it
            }
            if (keep) {
                channels.add(pc);
                pc.state.set(PooledChannel.State.CHECKING);
                backoff.connected();
            }
        }
        metrics.created();
        if (!keep) {
            if (stale) {
                log.debug("{}: closing a connection opened for the configuration before the reload", name);
            }
            pc.channel().close();
            run(afterStale);
            return;
        }
        log.debug("{}: opened {} (token expires {})", name, pc, pc.tokenExpiresAt().orElse(null));
        pc.channel().closeFuture().addListener(f -> onChannelClosed(pc));
        onLoop(pc, () -> makeIdle(pc, true));
    }

    private void onCreateFailed(Waiter w, UpstreamException e) {
        metrics.creationFailed(e.kind());
        Instant now = env.clock().instant();
        List<Runnable> after = new ArrayList<>();
        boolean failWaiter;
        synchronized (this) {
            pending--;
            if (w != null) {
                w.creating = false;
            }
            failWaiter = w != null && waiters.remove(w);
            backoff.connectFailed(now);
            if (e.kind() == Kind.THROTTLED) {
                backoff.throttle(now, null, name, e.upstreamReply().orElse(e.getMessage()));
            }
            afterChangeLocked(after);
        }
        log.warn("{}: could not open an upstream connection: {}", name, e.toString());
        if (failWaiter) {
            w.fail(e);
        }
        run(after);
    }

    // ---------------------------------------------------------------- idle, probe, release, reset

    /** On the event loop: starts watching the channel and makes it available. */
    private void makeIdle(PooledChannel pc, boolean fresh) {
        Channel ch = pc.channel();
        if (!ch.isActive()) {
            retire(pc, "closed-by-upstream");
            return;
        }
        IdleWatchHandler.start(ch, name);
        Instant now = env.clock().instant();
        List<Runnable> after = new ArrayList<>();
        synchronized (this) {
            if (pc.state.get() == PooledChannel.State.RETIRED) {
                return;
            }
            if (closed) {
                retireLocked(pc, "pool-closed", after);
            } else if (pc.generation != generation) {
                retireLocked(pc, "config-changed", after);
            } else if (counts().total() > config.max()) {
                retireLocked(pc, "over-max", after);
            } else {
                pc.state.set(PooledChannel.State.IDLE);
                if (fresh) {
                    pc.idleSince = now;
                }
                pc.lastVerified = now;
                idle.addFirst(pc);
            }
            afterChangeLocked(after);
        }
        run(after);
    }

    /** On the event loop: NOOP before reuse or as keep-alive; idle again on success, closed otherwise. */
    private void probe(PooledChannel pc) {
        Channel ch = pc.channel();
        IdleWatchHandler.stop(ch);
        commands.noop(pc).whenComplete((v, err) -> {
            if (err == null) {
                log.debug("{}: {} answered NOOP", name, pc);
                makeIdle(pc, false);
            } else {
                log.info("{}: {} failed its NOOP probe, closing it: {}", name, pc, PoolOpener.asUpstream(err).toString());
                retire(pc, "probe-failed");
            }
        });
    }

    /**
     * From {@link PooledLease#release}: reset and back to idle, or closed. Any thread.
     *
     * @param unused the session sent nothing upstream: back to idle without a reset round trip
     */
    void release(PooledChannel pc, boolean dirty, boolean unused) {
        if (!pc.state.compareAndSet(PooledChannel.State.LEASED, PooledChannel.State.RESETTING)) {
            return;
        }
        Instant now = env.clock().instant();
        String closeReason = null;
        List<Runnable> after = new ArrayList<>();
        synchronized (this) {
            if (closed) {
                closeReason = "pool-closed";
            } else if (dirty) {
                closeReason = "dirty";
            } else if (pc.generation != generation) {
                closeReason = "config-changed";
            } else if (!pc.channel().isActive()) {
                closeReason = "closed-by-upstream";
            } else if (counts().total() > config.max()) {
                closeReason = "over-max";
            } else if (!pc.leasable(now, config.minTokenLife())) {
                closeReason = "token-expiring";
            }
            if (closeReason != null) {
                retireLocked(pc, closeReason, after);
                afterChangeLocked(after);
            }
        }
        if (closeReason != null) {
            log.debug("{}: {} given back, closing it ({})", name, pc, closeReason);
            run(after);
            return;
        }
        onLoop(pc, () -> reset(pc, unused));
    }

    /** On the event loop: undo what the session left (selected mailbox, SMTP transaction). */
    private void reset(PooledChannel pc, boolean unused) {
        Channel ch = pc.channel();
        List<String> leftovers = new ArrayList<>(ch.pipeline().toMap().keySet());
        leftovers.remove("tls");
        if (!leftovers.isEmpty()) {
            log.warn("{}: {} given back with handlers {} still in its pipeline, closing it", name, pc, leftovers);
            retire(pc, "not-handed-back");
            return;
        }
        ch.config().setAutoRead(false);
        if (unused) {
            log.debug("{}: {} given back unused, idle again without a reset", name, pc);
            makeIdle(pc, true);
            return;
        }
        commands.reset(pc).whenComplete((v, err) -> {
            if (err == null) {
                log.debug("{}: {} reset", name, pc);
                makeIdle(pc, true);
            } else {
                log.info("{}: {} could not be reset, closing it: {}", name, pc, PoolOpener.asUpstream(err).toString());
                retire(pc, "reset-failed");
            }
        });
    }

    /** From {@link PooledLease#reportThrottled}: for {@code wanted} when the upstream said (else null). */
    void throttled(String why, Duration wanted) {
        change(after -> backoff.throttle(env.clock().instant(), wanted, name, why));
    }

    /**
     * From {@link PooledLease#tokenRejected}: the upstream no longer takes {@code pc}'s token. The connector drops
     * the cached token; idle channels logged in with the same one (the same expiry: they came from the same cache
     * entry) are closed, so no lease gets a connection the upstream is about to end.
     */
    void tokenRejected(PooledChannel pc) {
        env.connector().tokenRejected(account, protocol);
        Optional<Instant> expiry = pc.tokenExpiresAt();
        if (expiry.isEmpty()) {
            return;
        }
        change(after -> channels.idleWithTokenExpiry(expiry.get(), pc)
                .forEach(other -> retireLocked(other, "token-rejected", after)));
    }

    private void onChannelClosed(PooledChannel pc) {
        if (pc.state.get() == PooledChannel.State.IDLE) {
            retire(pc, "closed-by-upstream");
        }
    }

    // ---------------------------------------------------------------- housekeeping

    /** From the registry's scheduler: retire, evict, keep alive, pre-warm. Never blocks. */
    void housekeep() {
        change(after -> {
            if (closed) {
                return;
            }
            Instant now = env.clock().instant();
            PoolConfig cfg = config;
            for (PooledChannel pc : List.copyOf(idle)) {
                if (!pc.channel().isActive()) {
                    retireLocked(pc, "closed-by-upstream", after);
                } else if (!pc.leasable(now, cfg.minTokenLife())) {
                    retireLocked(pc, "token-expiring", after);
                }
            }
            channels.idleTimedOut(now, cfg).forEach(pc -> retireLocked(pc, "idle-timeout", after));
            for (PooledChannel pc : channels.dueForKeepAlive(now, cfg)) {
                idle.remove(pc);
                pc.state.set(PooledChannel.State.CHECKING);
                after.add(() -> onLoop(pc, () -> probe(pc)));
            }
        });
    }

    /**
     * Follows a reload: new pool settings apply at once; when the account's mailbox, credentials or upstream
     * (endpoints, trust, time-outs) changed, idle connections are closed and leased ones are closed when given back,
     * so no session is served by a connection logged in to the old server or as the old identity.
     */
    void adopt(AccountConfig updated, UpstreamConfig upstream) {
        PoolConfig next = updated.pool(protocol);
        ConnectionTarget nextTarget = new ConnectionTarget(updated.mailbox(), updated.upstream(), updated.auth(), upstream);
        account = updated;
        if (target == null) {
            target = nextTarget;
        } else if (!target.equals(nextTarget)) {
            change(after -> {
                if (!nextTarget.equals(target)) {
                    target = nextTarget;
                    generation++;
                    log.info("{}: the account's upstream or credentials changed: closing its idle connections, and "
                            + "leased ones when they are given back", name);
                    for (PooledChannel pc : new ArrayList<>(idle)) {
                        retireLocked(pc, "config-changed", after);
                    }
                }
            });
        }
        if (!next.equals(config)) {
            change(after -> {
                log.info("{}: pool settings changed to {}", name, next);
                config = next;
            });
        }
    }

    /** A change under the pool's lock, then what it leaves to do (dispatch, pre-warm) outside it. */
    private void change(java.util.function.Consumer<List<Runnable>> body) {
        List<Runnable> after = new ArrayList<>();
        synchronized (this) {
            body.accept(after);
            afterChangeLocked(after);
        }
        run(after);
    }

    private void afterChangeLocked(List<Runnable> after) {
        if (closed) {
            return;
        }
        while (counts().total() > config.max() && !idle.isEmpty()) {
            retireLocked(idle.peekLast(), "over-max", after);
        }
        dispatchLocked(after);
        fillLocked(after);
    }

    /** Pre-warms towards min-idle, in the background, unless the account backs off. */
    private void fillLocked(List<Runnable> after) {
        Instant now = env.clock().instant();
        if (closed || !backoff.mayPrewarm(now)) {
            return;
        }
        PoolChannels.Counts c = counts();
        int want = Math.min(config.max() - c.total(), config.minIdle() - c.idle() - c.pending());
        for (int i = 0; i < want; i++) {
            pending++;
            after.add(() -> create(null));
        }
    }

    // ---------------------------------------------------------------- close, status

    void close(UpstreamException reason) {
        List<Runnable> after = new ArrayList<>();
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            closedReason = reason;
            for (Waiter w : waiters) {
                after.add(() -> w.fail(reason));
            }
            waiters.clear();
            for (PooledChannel pc : List.copyOf(idle)) {
                retireLocked(pc, "pool-closed", after);
            }
        }
        run(after);
        metrics.remove();
    }

    private void retire(PooledChannel pc, String reason) {
        change(after -> retireLocked(pc, reason, after));
    }

    private void retireLocked(PooledChannel pc, String reason, List<Runnable> after) {
        pc.state.set(PooledChannel.State.RETIRED);
        if (!channels.remove(pc)) {
            return;
        }
        metrics.closed(reason);
        log.debug("{}: closing {} ({})", name, pc, reason);
        after.add(() -> pc.channel().close());
    }

    synchronized PoolChannels.Counts counts() {
        return channels.counts(pending, waiters.size());
    }

    synchronized Optional<Duration> minTokenLifeLeft() {
        return channels.minTokenLifeLeft(env.clock().instant());
    }

    synchronized PoolSnapshot snapshot() {
        PoolChannels.Counts c = counts();
        Instant now = env.clock().instant();
        return new PoolSnapshot(accountName, protocol, c.active(), c.idle(), c.pending(), c.waiting(), config.max(),
                minTokenLifeLeft(), backoff.throttled(now) ? Optional.of(backoff.throttledUntil()) : Optional.empty());
    }

    // ---------------------------------------------------------------- helpers

    private void onLoop(PooledChannel pc, Runnable task) {
        try {
            pc.channel().eventLoop().execute(task);
        } catch (RejectedExecutionException e) {
            retire(pc, "event-loop-gone");
        }
    }

    private void run(List<Runnable> actions) {
        for (Runnable r : actions) {
            try {
                r.run();
            } catch (RuntimeException e) {
                log.warn("{}: pool action failed", name, e);
            }
        }
    }
}
