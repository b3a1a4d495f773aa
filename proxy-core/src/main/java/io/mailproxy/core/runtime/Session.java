package io.mailproxy.core.runtime;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetAddress;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;

/** The runtime's book-keeping for one client connection. */
final class Session {

    static final AttributeKey<Session> KEY = AttributeKey.valueOf("mailproxy.session");

    final String id;
    final Channel channel;
    final ListenerGeneration listener;
    final Instant opened;
    /** True once the session counts against the limits (refused connections never do). */
    volatile boolean admitted;
    /**
     * The client's address when the per-address limits apply to it (not loopback), else null.
     */
    final InetAddress source;
    /** The listener has a fixed client: the session counts as logged in from the start. */
    final boolean fixedClient;
    /** True while the session counts against {@code max-unauthenticated}; whoever clears it releases the count. */
    final AtomicBoolean preLogin = new AtomicBoolean();
    /** Its place in the registry's pre-login order (oldest first); set when admitted. */
    volatile long preLoginSeq;
    /** The frontend said the session logged in (an evicted session that did so anyway is not closed by force). */
    volatile boolean loggedIn;
    /** Set by {@link SessionLog}; read when the session ends and for {@code /status}. */
    volatile String client;
    volatile String account;
    volatile String outcome;
    /** Bytes on the wire each way; written only on the channel's event loop ({@link SessionTrafficHandler}). */
    volatile long bytesIn;
    volatile long bytesOut;

    Session(String id, Channel channel, ListenerGeneration listener, Instant opened, InetAddress source) {
        this.id = id;
        this.channel = channel;
        this.listener = listener;
        this.opened = opened;
        this.source = source;
        this.fixedClient = listener.config.client().isPresent();
    }
}
