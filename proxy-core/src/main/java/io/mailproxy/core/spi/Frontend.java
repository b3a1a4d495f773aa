package io.mailproxy.core.spi;

import io.netty.channel.Channel;

/**
 * One protocol's server side. The runtime accepts the connection, applies connection limits, allow-from and implicit
 * TLS, then calls {@link #initChannel} on the channel's event loop.
 */
public interface Frontend {

    /**
     * Adds the frontend's handlers. When local TLS is implicit the SslHandler is already first in the pipeline;
     * for STARTTLS the frontend inserts it with {@link ListenerContext#newServerSslHandler}.
     */
    void initChannel(Channel channel, ListenerContext listener);

    /**
     * Says goodbye in the protocol ({@code * BYE [UNAVAILABLE]}, {@code -ERR [SYS/TEMP]}, {@code 421 4.3.2}) at the
     * next safe point and closes. Called on the channel's event loop when the daemon shuts down. The default fires
     * {@link ShutdownEvent} down the pipeline, so a session handler can react in {@code userEventTriggered}.
     */
    default void shutdown(Channel channel) {
        channel.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE);
    }
}
