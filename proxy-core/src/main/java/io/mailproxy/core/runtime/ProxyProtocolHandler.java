package io.mailproxy.core.runtime;

import io.mailproxy.core.config.Cidr;
import io.mailproxy.core.config.ListenerConfig;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.ReferenceCountUtil;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the PROXY header (v1 or v2) a trusted load balancer sends first on a connection, before the session starts:
 * nothing is written to the client and no TLS handler exists until it has arrived. Netty's
 * {@link HAProxyMessageDecoder} parses it; this handler then records the client address ({@link ClientAddress}),
 * lets the runtime admit the session under that address (the runtime adds TLS and the frontend behind this handler),
 * replays {@code channelActive} to them so the frontend greets, and leaves the pipeline. Bytes the client sent after
 * the header reach the frontend (the decoder hands them on when it leaves).
 *
 * <p>A v2 LOCAL header (the load balancer's own health check) and a v1 UNKNOWN one carry no client: the session is
 * admitted as the load balancer itself, as the PROXY specification says. No header within the timeout, or one that
 * does not parse, closes the connection; {@code refused} gets a reason for the log.
 */
final class ProxyProtocolHandler extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ProxyProtocolHandler.class);

    static final String DECODER = "proxy-protocol-decoder";
    static final String NAME = "proxy-protocol";
    /**
     * TLVs a v2 header may carry (HAProxy sends a few: ALPN, authority, unique id, SSL info); they are skipped. The
     * bound keeps a header at 16 + 216 + 1024 bytes, the whole memory a connection holds before it is admitted.
     */
    static final int MAX_TLV_BYTES = 1024;

    private final Duration timeout;
    private final Consumer<InetSocketAddress> admit;
    private final Consumer<String> refused;
    private ScheduledFuture<?> timer;
    private boolean done;

    private ProxyProtocolHandler(Duration timeout, Consumer<InetSocketAddress> admit, Consumer<String> refused) {
        this.timeout = timeout;
        this.admit = admit;
        this.refused = refused;
    }

    /**
     * Puts the decoder and this handler at the head of a new channel's pipeline (in the channel initializer). Both
     * callbacks run on the channel's event loop with its session id in the MDC.
     *
     * @param admit   called once the header arrived, with the address it named, or null for LOCAL / UNKNOWN (the
     *                session is then the load balancer's own); it adds the session's handlers behind this one
     * @param refused called with a reason for the log when the connection is being closed instead
     */
    static void install(Channel channel, Duration timeout, Consumer<InetSocketAddress> admit,
                        Consumer<String> refused) {
        channel.pipeline().addLast(DECODER, new HAProxyMessageDecoder(MAX_TLV_BYTES))
                .addLast(NAME, new ProxyProtocolHandler(timeout, admit, refused));
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        timer = ctx.executor().schedule(() -> fail(ctx, "no PROXY header within " + seconds(timeout)
                + " (proxy-protocol.header-timeout)"), timeout.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** Held back: the frontend behind this handler does not exist yet; it gets the event once admitted. */
    @Override
    public void channelActive(ChannelHandlerContext ctx) {
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (done || !(msg instanceof HAProxyMessage header)) {
            // after a failure the decoder may still hand on bytes; a session never sees them
            ReferenceCountUtil.release(msg);
            return;
        }
        try {
            InetSocketAddress client;
            try {
                client = clientOf(header);
            } catch (UnknownHostException e) {
                fail(ctx, "the PROXY header's source address does not parse: " + header.sourceAddress());
                return;
            }
            done = true;
            timer.cancel(false);
            if (client != null) {
                ClientAddress.set(ctx.channel(), client);
            }
            SessionIds.run(ctx.channel(), () -> admit.accept(client));
            if (ctx.channel().isActive()) {
                ctx.fireChannelActive();
            }
            ctx.pipeline().remove(this);
        } finally {
            header.release();
        }
    }

    /** The client address of a PROXY/TCP header; null for LOCAL, UNKNOWN and UNIX-socket sources. */
    static InetSocketAddress clientOf(HAProxyMessage header) throws UnknownHostException {
        if (header.command() == HAProxyCommand.LOCAL) {
            return null;
        }
        HAProxyProxiedProtocol.AddressFamily family = header.proxiedProtocol().addressFamily();
        if (family != HAProxyProxiedProtocol.AddressFamily.AF_IPv4
                && family != HAProxyProxiedProtocol.AddressFamily.AF_IPv6) {
            return null;
        }
        // a literal (the decoder checked its syntax): no name lookup happens
        return new InetSocketAddress(InetAddress.getByName(header.sourceAddress()), header.sourcePort());
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (done) {
            ctx.fireExceptionCaught(cause);
            return;
        }
        Throwable root = cause.getCause() != null ? cause.getCause() : cause;
        fail(ctx, "invalid PROXY header: " + (root.getMessage() == null ? root.getClass().getSimpleName()
                : root.getMessage()));
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (timer != null) {
            timer.cancel(false);
        }
        // a load balancer's plain TCP health check connects and closes without a header: not worth a log line
        done = true;
        ctx.fireChannelInactive();
    }

    private void fail(ChannelHandlerContext ctx, String reason) {
        if (done) {
            return;
        }
        done = true;
        if (timer != null) {
            timer.cancel(false);
        }
        SessionIds.run(ctx.channel(), () -> refused.accept(reason));
        ctx.close();
    }

    /**
     * ", PROXY protocol from 10.0.0.5/32" for the "listening" line, or "" without proxy-protocol; warns about a
     * {@code trusted} block wider than an IPv4 /24 or an IPv6 /64, whose every host could claim any client address.
     */
    static String describe(ListenerConfig listener, String name) {
        if (listener.proxyProtocol().isEmpty()) {
            return "";
        }
        List<Cidr> trusted = listener.proxyProtocol().get().trusted();
        for (Cidr cidr : trusted) {
            if (cidr.prefix() < (cidr.network() instanceof Inet4Address ? 24 : 64)) {
                log.warn("listener {}: proxy-protocol.trusted includes {}: every host in it may send a PROXY header"
                        + " and claim any client address, past allow-from and the per-address limits; list only"
                        + " the load balancers", name, cidr);
            }
        }
        return ", PROXY protocol from " + trusted.stream().map(Cidr::toString).collect(Collectors.joining(", "));
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }
}
