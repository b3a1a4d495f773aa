package io.mailproxy.core.pool;

import io.mailproxy.core.config.PoolConfig;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The channels of one pool: every one not yet retired, and the idle ones (most recently given back first), with the
 * counts and the housekeeping choices made from them. Guarded by the pool's monitor.
 */
final class PoolChannels {

    /** The pool's counts; {@code idle} includes the channels on their way to idle, {@code total} the pending ones. */
    record Counts(int active, int idle, int pending, int waiting, int checking, int resetting, int total) { }

    final ArrayDeque<PooledChannel> idle = new ArrayDeque<>(); // head: most recently given back
    private final Set<PooledChannel> all = new LinkedHashSet<>();

    void add(PooledChannel pc) {
        all.add(pc);
    }

    /** @return false when it was retired already */
    boolean remove(PooledChannel pc) {
        if (!all.remove(pc)) {
            return false;
        }
        idle.remove(pc);
        return true;
    }

    int size() {
        return all.size();
    }

    int count(PooledChannel.State state) {
        int n = 0;
        for (PooledChannel pc : all) {
            if (pc.state.get() == state) {
                n++;
            }
        }
        return n;
    }

    Counts counts(int pending, int waiting) {
        int active = 0;
        int checking = 0;
        int resetting = 0;
        for (PooledChannel pc : all) {
            switch (pc.state.get()) {
                case LEASED, HANDING -> active++;
                case CHECKING -> checking++;
                case RESETTING -> resetting++;
                default -> { }
            }
        }
        return new Counts(active, idle.size() + checking, pending, waiting, checking, resetting,
                all.size() + pending);
    }

    Optional<Duration> minTokenLifeLeft(Instant now) {
        return idle.stream().flatMap(pc -> pc.tokenExpiresAt().stream())
                .map(exp -> Duration.between(now, exp)).min(Duration::compareTo);
    }

    /** The idle channels idle for {@code idle-timeout}, least recently used first, as long as min-idle stay ready. */
    List<PooledChannel> idleTimedOut(Instant now, PoolConfig cfg) {
        int ready = idle.size() + count(PooledChannel.State.CHECKING);
        List<PooledChannel> evict = new ArrayList<>();
        for (Iterator<PooledChannel> it = idle.descendingIterator(); it.hasNext() && ready > cfg.minIdle(); ) {
            PooledChannel pc = it.next();
            if (Duration.between(pc.idleSince, now).compareTo(cfg.idleTimeout()) >= 0) {
                evict.add(pc);
                ready--;
            }
        }
        return evict;
    }

    /** The idle channels not proven alive for {@code keep-alive} (none when keep-alive is off). */
    List<PooledChannel> dueForKeepAlive(Instant now, PoolConfig cfg) {
        if (cfg.keepAlive().compareTo(Duration.ZERO) <= 0) {
            return List.of();
        }
        return idle.stream().filter(pc -> Duration.between(pc.lastVerified, now).compareTo(cfg.keepAlive()) >= 0)
                .toList();
    }

    /** Idle channels other than {@code except} logged in with a token of this expiry (the same cached token). */
    List<PooledChannel> idleWithTokenExpiry(java.time.Instant expiry, PooledChannel except) {
        return idle.stream().filter(pc -> pc != except && pc.tokenExpiresAt().map(expiry::equals).orElse(false))
                .toList();
    }
}
