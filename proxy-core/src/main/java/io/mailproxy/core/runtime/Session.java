package io.mailproxy.core.runtime;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
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
    /** True while the session counts against {@code max-unauthenticated}. */
    final AtomicBoolean preLogin = new AtomicBoolean();
    /** Set by {@link SessionLog}; read when the session ends and for {@code /status}. */
    volatile String client;
    volatile String account;
    volatile String outcome;
    /** Bytes on the wire each way; written only on the channel's event loop ({@link SessionTrafficHandler}). */
    volatile long bytesIn;
    volatile long bytesOut;

    Session(String id, Channel channel, ListenerGeneration listener, Instant opened) {
        this.id = id;
        this.channel = channel;
        this.listener = listener;
        this.opened = opened;
    }
}
