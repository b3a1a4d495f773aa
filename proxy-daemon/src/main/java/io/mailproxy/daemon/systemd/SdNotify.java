package io.mailproxy.daemon.systemd;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainDatagramPacket;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The service manager notification protocol ({@code sd_notify(3)}): datagrams of {@code KEY=VALUE} lines to the
 * Unix socket named by {@code $NOTIFY_SOCKET}, a path or, starting with {@code @}, a name in the abstract namespace.
 * JDK 17 has no Unix datagram sockets, so this sends with Netty's native epoll domain datagram channel.
 *
 * <p>A no-op (logged at debug) when {@code NOTIFY_SOCKET} is unset (not run by systemd, or {@code Type=} other than
 * {@code notify}) or native epoll is not available. A failed send is logged once as a warning and never thrown: the
 * daemon serves mail whether or not systemd hears about it. The unit needs {@code NotifyAccess=main} (the default)
 * with java itself as the main process.
 */
public final class SdNotify implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SdNotify.class);

    /** How long a send may take before it is abandoned (the kernel queues a datagram at once, or refuses). */
    private static final long SEND_TIMEOUT_MS = 2000;

    private final DomainSocketAddress target;
    private final EventLoopGroup group;
    private final Channel channel;
    private final LongSupplier monotonicMicros;
    private volatile boolean warned;

    private SdNotify(DomainSocketAddress target, EventLoopGroup group, Channel channel, LongSupplier monotonicMicros) {
        this.target = target;
        this.group = group;
        this.channel = channel;
        this.monotonicMicros = monotonicMicros;
    }

    /** From the process environment; a no-op unless systemd passed {@code NOTIFY_SOCKET}. */
    public static SdNotify fromEnvironment(Map<String, String> env) {
        // HotSpot's System.nanoTime() reads CLOCK_MONOTONIC on Linux, the clock MONOTONIC_USEC is taken from.
        return create(env.get("NOTIFY_SOCKET"), () -> System.nanoTime() / 1000);
    }

    static SdNotify create(String notifySocket, LongSupplier monotonicMicros) {
        if (notifySocket == null || notifySocket.isEmpty()) {
            log.debug("NOTIFY_SOCKET is not set: no systemd notifications");
            return disabled(monotonicMicros);
        }
        if (!notifySocket.startsWith("/") && !notifySocket.startsWith("@")) {
            // systemd also knows vsock:CID:PORT (for VMs); mailproxy does not need it
            log.debug("NOTIFY_SOCKET {} is neither a path nor an abstract name: no systemd notifications",
                    notifySocket);
            return disabled(monotonicMicros);
        }
        if (!Epoll.isAvailable()) {
            log.debug("native epoll is not available ({}): no systemd notifications",
                    String.valueOf(Epoll.unavailabilityCause()));
            return disabled(monotonicMicros);
        }
        DomainSocketAddress target = new DomainSocketAddress(notifySocket.startsWith("@")
                ? "\0" + notifySocket.substring(1) : notifySocket);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("mailproxy-sd-notify",
                true), EpollIoHandler.newFactory());
        ChannelFuture registered = new Bootstrap().group(group).channel(EpollDomainDatagramChannel.class)
                .option(ChannelOption.DATAGRAM_CHANNEL_ACTIVE_ON_REGISTRATION, true)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg); // systemd never answers
                    }
                })
                .register().awaitUninterruptibly();
        if (!registered.isSuccess()) {
            log.warn("cannot open a socket for systemd notifications: {}", registered.cause().toString());
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            return disabled(monotonicMicros);
        }
        log.debug("systemd notifications go to {}", notifySocket);
        return new SdNotify(target, group, registered.channel(), monotonicMicros);
    }

    private static SdNotify disabled(LongSupplier monotonicMicros) {
        return new SdNotify(null, null, null, monotonicMicros);
    }

    /** True when notifications are sent (run by systemd with {@code Type=notify}). */
    public boolean enabled() {
        return channel != null;
    }

    /** {@code READY=1}: start-up finished, the listeners are bound (also after a reload). */
    public void ready(String status) {
        send("READY=1\nSTATUS=" + oneLine(status));
    }

    /**
     * {@code RELOADING=1} with {@code MONOTONIC_USEC} (which systemd 253 and later want with it, and 252 ignores);
     * follow with {@link #ready} when the reload is done, whether it succeeded or not.
     */
    public void reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=" + monotonicMicros.getAsLong() + "\nSTATUS=reloading the configuration");
    }

    /** {@code STOPPING=1}: shutting down, saying goodbye to clients. */
    public void stopping() {
        send("STOPPING=1\nSTATUS=shutting down");
    }

    /** {@code STATUS=...}: one line shown by {@code systemctl status}. */
    public void status(String status) {
        send("STATUS=" + oneLine(status));
    }

    private static String oneLine(String s) {
        return s.replace('\n', ' ').replace('\r', ' ');
    }

    /** Blocks until the datagram is queued, for at most a moment; never throws. */
    void send(String message) {
        if (channel == null) {
            return;
        }
        ByteBuf data = Unpooled.copiedBuffer(message, StandardCharsets.UTF_8);
        ChannelFuture sent = channel.writeAndFlush(new DomainDatagramPacket(data, target));
        if (!sent.awaitUninterruptibly(SEND_TIMEOUT_MS) || !sent.isSuccess()) {
            if (!warned) {
                warned = true;
                log.warn("cannot notify systemd through {}: {}", target.path().replace('\0', '@'),
                        sent.cause() == null ? "timed out" : sent.cause().toString());
            }
            return;
        }
        log.debug("notified systemd: {}", message.replace('\n', ' '));
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().awaitUninterruptibly(SEND_TIMEOUT_MS);
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(SEND_TIMEOUT_MS);
        }
    }
}
