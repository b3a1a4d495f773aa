package io.mailproxy.core.runtime;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.util.AttributeKey;
import org.slf4j.MDC;

/**
 * Session ids: every client connection gets one ({@code imap-1k}, {@code smtp-2}), and every log line written while
 * that connection's events are handled carries it in the SLF4J MDC key {@value #MDC_KEY}. Code that logs from a
 * callback outside the pipeline (a future listener, a timer) wraps its work in {@link #run}.
 */
public final class SessionIds {

    /** The MDC key; logback patterns print it with {@code %X{session}}. */
    public static final String MDC_KEY = "session";

    static final AttributeKey<String> ID = AttributeKey.valueOf("mailproxy.sessionId");

    private SessionIds() { }

    /** The channel's session id, or "-" when it has none. */
    public static String of(Channel channel) {
        String id = channel.attr(ID).get();
        return id == null ? "-" : id;
    }

    /**
     * Gives a channel a session id: an upstream channel leased by a session takes the client's id, so its log lines
     * (through {@link #mdcHandler()}) say whose they are.
     */
    public static void set(Channel channel, String sessionId) {
        channel.attr(ID).set(sessionId);
    }

    /** Runs {@code task} with the channel's session id in the MDC, restoring what was there before. */
    public static void run(Channel channel, Runnable task) {
        String previous = MDC.get(MDC_KEY);
        MDC.put(MDC_KEY, of(channel));
        try {
            task.run();
        } finally {
            restore(previous);
        }
    }

    /**
     * A sharable handler that puts the channel's session id into the MDC while each inbound event passes it; put it
     * near the head of a pipeline. The runtime adds it (named {@code "session"}) to every client channel.
     */
    public static ChannelHandler mdcHandler() {
        return SessionMdcHandler.INSTANCE;
    }

    static void restore(String previous) {
        if (previous == null) {
            MDC.remove(MDC_KEY);
        } else {
            MDC.put(MDC_KEY, previous);
        }
    }
}
