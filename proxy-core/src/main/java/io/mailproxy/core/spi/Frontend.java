package io.mailproxy.core.spi;

import io.netty.channel.Channel;
import java.util.Optional;

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

    /**
     * Ends a session that has not logged in because a newer connection took its pre-login slot: a goodbye in the
     * protocol, then close. Called on the channel's event loop; the runtime closes the channel itself if it is still
     * open, and still not logged in, some seconds later. The default fires {@link EvictionEvent} down the pipeline.
     */
    default void evict(Channel channel) {
        channel.pipeline().fireUserEventTriggered(EvictionEvent.INSTANCE);
    }

    /**
     * Turns a connection away instead of starting a session (a connection limit is reached, or the daemon is
     * stopping). Called on the channel's event loop instead of {@link #initChannel}; the pipeline holds only the
     * runtime's handlers (the implicit-TLS {@code "tls"} SslHandler, if any), so write a {@code ByteBuf}. A frontend
     * overrides this to answer in its protocol ({@code * BYE [UNAVAILABLE] reason}, {@code -ERR [SYS/TEMP] reason},
     * {@code 421 4.3.2 reason}) and close on flush. The runtime closes the channel itself if it is still open some
     * seconds later. The default just closes.
     *
     * @param reason a readable reason, e.g. "too many connections"
     */
    default void refuse(Channel channel, String reason) {
        channel.close();
    }

    /**
     * The frontend's store-and-forward queue, for {@code status}, {@code /health} and {@code queue
     * list/retry/delete}; empty when it keeps none (the default).
     */
    default Optional<QueueAdmin> queue() {
        return Optional.empty();
    }

    /**
     * Releases what the frontend owns beyond its connections (the SMTP delivery worker), after the listeners have
     * stopped and the sessions drained. The default does nothing.
     */
    default void close() {
    }
}
