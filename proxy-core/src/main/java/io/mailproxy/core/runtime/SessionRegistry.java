package io.mailproxy.core.runtime;

import io.mailproxy.core.config.LimitsConfig;
import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Every client channel the runtime accepted, and the two connection counts the limits apply to. Thread-safe: each
 * session is admitted on its own event loop, and shutdown walks the set from another thread.
 */
final class SessionRegistry {

    static final String TOO_MANY = "too many connections";
    static final String TOO_MANY_UNAUTHENTICATED = "too many connections not yet logged in";

    private final Map<Channel, Session> channels = new ConcurrentHashMap<>();
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger unauthenticated = new AtomicInteger();

    /**
     * Counts the session against the limits, unless that would exceed one. Call before {@link #track}.
     *
     * @return null when admitted, else the reason for refusing
     */
    String admit(Session session, LimitsConfig limits) {
        if (open.incrementAndGet() > limitOf(limits.maxConnections())) {
            open.decrementAndGet();
            return TOO_MANY;
        }
        if (unauthenticated.incrementAndGet() > limitOf(limits.maxUnauthenticated())) {
            unauthenticated.decrementAndGet();
            open.decrementAndGet();
            return TOO_MANY_UNAUTHENTICATED;
        }
        session.preLogin.set(true);
        session.admitted = true;
        return null;
    }

    /** A limit of 0 or less means none. */
    private static int limitOf(int configured) {
        return configured <= 0 ? Integer.MAX_VALUE : configured;
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
            if (session.preLogin.compareAndSet(true, false)) {
                unauthenticated.decrementAndGet();
            }
        }
    }

    void authenticated(Channel channel) {
        Session session = channel.attr(Session.KEY).get();
        if (session != null && session.admitted && session.preLogin.compareAndSet(true, false)) {
            unauthenticated.decrementAndGet();
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
