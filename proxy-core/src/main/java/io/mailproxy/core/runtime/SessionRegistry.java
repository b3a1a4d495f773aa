package io.mailproxy.core.runtime;

import io.mailproxy.core.config.LimitsConfig;
import io.netty.channel.Channel;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Every client channel the runtime accepted, and the connection counts the limits apply to: open connections, those
 * not yet logged in (in admission order, so the oldest can make room for a new one), and per non-loopback address
 * those not yet logged in and those on fixed-client listeners. Thread-safe: each session is admitted on its own event
 * loop, and shutdown walks the set from another thread.
 */
final class SessionRegistry {

    static final String TOO_MANY = "too many connections";
    static final String TOO_MANY_UNAUTHENTICATED = "too many connections not yet logged in";
    static final String TOO_MANY_UNAUTHENTICATED_FROM_ADDRESS = "too many connections not yet logged in from this address";
    static final String TOO_MANY_FROM_ADDRESS = "too many connections from this address";

    /**
     * What {@link #admit} decided.
     *
     * @param refusal null when admitted, else the reason for refusing
     * @param evicted the oldest session not yet logged in, which no longer counts and must be closed to make room
     *                for this one; null when there was room
     */
    record Admission(String refusal, Session evicted) {
        static final Admission ADMITTED = new Admission(null, null);
    }

    /** How many of the oldest sessions not yet logged in are looked at for a silent one to close. */
    static final int EVICTION_SCAN = 1000;

    private final Map<Channel, Session> channels = new ConcurrentHashMap<>();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger unauthenticated = new AtomicInteger();
    /** Sessions counted in {@link #unauthenticated}, oldest first. */
    private final ConcurrentSkipListMap<Long, Session> preLoginOrder = new ConcurrentSkipListMap<>();
    private final AtomicLong preLoginSeq = new AtomicLong();
    /** Per non-loopback address: sessions not yet logged in; entries at zero are removed. */
    private final Map<InetAddress, Integer> preLoginByAddress = new ConcurrentHashMap<>();
    /** Per non-loopback address: sessions on fixed-client listeners; entries at zero are removed. */
    private final Map<InetAddress, Integer> fixedClientByAddress = new ConcurrentHashMap<>();

    /**
     * Counts the session against the limits, unless that would exceed one; over {@code max-unauthenticated}, the
     * oldest session not yet logged in gives up its place (see {@link Admission#evicted}). A fixed-client session
     * counts as logged in from the start. Call before {@link #track}.
     */
    Admission admit(Session session, LimitsConfig limits) {
        if (open.incrementAndGet() > limitOf(limits.maxConnections())) {
            open.decrementAndGet();
            return new Admission(TOO_MANY, null);
        }
        if (session.fixedClient) {
            if (session.source != null
                    && !increment(fixedClientByAddress, session.source, limits.maxFixedClientPerAddress())) {
                open.decrementAndGet();
                return new Admission(TOO_MANY_FROM_ADDRESS, null);
            }
            session.admitted = true;
            return Admission.ADMITTED;
        }
        if (session.source != null
                && !increment(preLoginByAddress, session.source, limits.maxUnauthenticatedPerAddress())) {
            open.decrementAndGet();
            return new Admission(TOO_MANY_UNAUTHENTICATED_FROM_ADDRESS, null);
        }
        Session evicted = null;
        if (unauthenticated.incrementAndGet() > limitOf(limits.maxUnauthenticated())) {
            evicted = claimOldest();
            if (evicted == null) {
                unauthenticated.decrementAndGet();
                open.decrementAndGet();
                decrement(preLoginByAddress, session.source);
                return new Admission(TOO_MANY_UNAUTHENTICATED, null);
            }
        }
        session.preLoginSeq = preLoginSeq.incrementAndGet();
        session.preLogin.set(true);   // before it can be found in the order, so claimOldest never skips it
        preLoginOrder.put(session.preLoginSeq, session);
        session.admitted = true;
        return evicted == null ? Admission.ADMITTED : new Admission(null, evicted);
    }

    /**
     * Takes a session not yet logged in out of the pre-login count, to be closed; null when there is none. The oldest
     * that has never sent a byte goes first: a client that is logging in has spoken, a silent flood has not, so the
     * flood replaces itself instead of the logins (Dovecot takes the oldest; under a flood faster than a login that
     * would be the login). When every one has spoken (among the oldest {@link #EVICTION_SCAN}), the oldest goes.
     */
    private Session claimOldest() {
        int scanned = 0;
        for (Session candidate : preLoginOrder.values()) {
            if (++scanned > EVICTION_SCAN) {
                break;
            }
            if (candidate.bytesIn == 0 && claim(candidate)) {
                return candidate;
            }
        }
        for (Session oldest : preLoginOrder.values()) {
            if (claim(oldest)) {
                return oldest;
            }
        }
        return null;
    }

    private boolean claim(Session session) {
        if (!session.preLogin.compareAndSet(true, false)) {
            return false;   // logged in or closed meanwhile: its own leavePreLogin removes it
        }
        unauthenticated.decrementAndGet();
        preLoginOrder.remove(session.preLoginSeq, session);
        decrement(preLoginByAddress, session.source);
        return true;
    }

    /** A limit of 0 or less means none. */
    private static int limitOf(int configured) {
        return configured <= 0 ? Integer.MAX_VALUE : configured;
    }

    private static boolean increment(Map<InetAddress, Integer> counts, InetAddress address, int limit) {
        boolean[] counted = {false};
        counts.compute(address, (a, n) -> {
            int now = n == null ? 0 : n;
            if (now >= limitOf(limit)) {
                return n;
            }
            counted[0] = true;
            return now + 1;
        });
        return counted[0];
    }

    private static void decrement(Map<InetAddress, Integer> counts, InetAddress address) {
        if (address != null) {
            counts.computeIfPresent(address, (a, n) -> n <= 1 ? null : n - 1);
        }
    }

    /** Remembers the channel until it closes; then releases what {@link #admit} counted. */
    void track(Session session) {
        channels.put(session.channel, session);
        session.channel.closeFuture().addListener(f -> closed(session));
    }

    private void closed(Session session) {
        channels.remove(session.channel);
        if (session.admitted) {
            open.decrementAndGet();
            leavePreLogin(session);
            if (session.fixedClient) {
                decrement(fixedClientByAddress, session.source);
            }
        }
    }

    void authenticated(Channel channel) {
        Session session = channel.attr(Session.KEY).get();
        if (session != null && session.admitted) {
            session.loggedIn = true;
            leavePreLogin(session);
        }
    }

    private void leavePreLogin(Session session) {
        if (session.preLogin.compareAndSet(true, false)) {
            unauthenticated.decrementAndGet();
            preLoginOrder.remove(session.preLoginSeq, session);
            decrement(preLoginByAddress, session.source);
        }
    }

    List<Session> snapshot() {
        return new ArrayList<>(channels.values());
    }

    AtomicInteger openCount() {
        return open;
    }

    AtomicInteger unauthenticatedCount() {
        return unauthenticated;
    }
}
