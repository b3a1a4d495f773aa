package io.mailproxy.core.runtime;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * The address of the client behind a connection. On a listener with {@code proxy-protocol} the TCP peer is the load
 * balancer and the client is the address its PROXY header named; everything that judges or logs "who is this"
 * (allow-from, per-address limits and login penalties, the session log, {@code /status}, "is this loopback")
 * reads {@link #of}, never {@code channel.remoteAddress()}.
 */
public final class ClientAddress {

    private static final AttributeKey<InetSocketAddress> KEY = AttributeKey.valueOf("mailproxy.clientAddress");

    private ClientAddress() { }

    /** The address a PROXY header named, else the TCP peer's; null when the channel has neither. */
    public static SocketAddress of(Channel channel) {
        InetSocketAddress proxied = channel.attr(KEY).get();
        return proxied != null ? proxied : channel.remoteAddress();
    }

    /** As {@link #of}, for the runtime's own use (client channels are always TCP). */
    static InetSocketAddress inet(Channel channel) {
        return of(channel) instanceof InetSocketAddress inet ? inet : null;
    }

    /** Records the client address a trusted PROXY header named. */
    static void set(Channel channel, InetSocketAddress client) {
        channel.attr(KEY).set(client);
    }
}
