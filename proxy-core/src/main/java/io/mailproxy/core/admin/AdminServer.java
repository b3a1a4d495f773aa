package io.mailproxy.core.admin;

import io.mailproxy.core.config.AdminConfig;
import io.mailproxy.core.runtime.Transport;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpServerCodec;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP endpoint: {@code GET /metrics} (Prometheus text), {@code GET /health} (200 or 503, JSON) and
 * {@code GET /status} (JSON). One request per connection ({@code Connection: close}), GET only, request head bounded,
 * each connection closed at an absolute deadline from connect ({@code admin.request-deadline}; 408 when its request
 * is not complete by then, however it trickles in), and a cap on concurrent connections at which the oldest
 * connection still without a complete request makes room for the new one, so that a few slow or stuck clients cannot
 * keep monitoring from getting an answer.
 *
 * <p>It runs on an event loop of its own, so computing a scrape or a status report never delays a mail session.
 *
 * <p>Configuration ({@code mailproxy.admin}): {@code enabled = false} turns it off ({@link #start} returns empty);
 * {@code port = 0} binds a free port (tests; see {@link #address()}); {@code bind} is loopback by default, and any
 * other address is used only because the administrator configured it, with a warning at start-up (the endpoint has
 * no authentication).
 */
public final class AdminServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AdminServer.class);

    /** Request line and headers together stay well below these; a larger head is refused with 400 or 431. */
    static final int MAX_INITIAL_LINE = 4096;
    static final int MAX_HEADER_SIZE = 8192;
    /**
     * Concurrent connections (scrapers need one or two). A new one beyond it evicts the oldest that has not sent a
     * complete request, or is closed at once when every open one has (they are being answered).
     */
    static final int MAX_CONNECTIONS = 16;

    private final EventLoopGroup group;
    private final Channel serverChannel;
    /** Open connections in accept order; touched only on the endpoint's one event loop (every admin channel is on it). */
    private final Set<Channel> open;

    private AdminServer(EventLoopGroup group, Channel serverChannel, Set<Channel> open) {
        this.group = group;
        this.serverChannel = serverChannel;
        this.open = open;
    }

    /**
     * Binds the endpoint, or does nothing when {@code config.enabled()} is false.
     *
     * @param transport the daemon's transport (epoll or NIO); the endpoint gets one event loop of it for itself
     * @param metrics   the registry {@code /metrics} scrapes
     * @throws IllegalStateException when the address cannot be bound, naming it
     */
    public static Optional<AdminServer> start(AdminConfig config, Transport transport, PrometheusMeterRegistry metrics,
                                              HealthSource health, StatusSource status, Clock clock) {
        if (!config.enabled()) {
            log.info("admin endpoint disabled (admin.enabled = false)");
            return Optional.empty();
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(config.bind());
        } catch (UnknownHostException e) {
            throw new IllegalStateException("admin endpoint: cannot resolve the bind address \"" + config.bind()
                    + "\"", e);
        }
        AdminHandler handler = new AdminHandler(metrics, health, status, clock);
        long deadlineMillis = config.requestDeadline().toMillis();
        String expired = "admin.request-deadline (" + deadlineMillis + " ms) passed";
        Set<Channel> open = new LinkedHashSet<>();
        EventLoopGroup group = transport.newEventLoopGroup(1, "mailproxy-admin");
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(transport.serverChannelClass())
                .option(ChannelOption.SO_BACKLOG, 64)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (open.size() >= MAX_CONNECTIONS && !evictOneWaiting(open)) {
                            log.warn("admin endpoint: {} connections open, each being answered; closing a new one"
                                    + " from {}", MAX_CONNECTIONS, ch.remoteAddress());
                            ch.close();
                            return;
                        }
                        open.add(ch);
                        var deadline = ch.eventLoop().schedule(() -> AdminHandler.expire(ch, expired),
                                deadlineMillis, TimeUnit.MILLISECONDS);
                        ch.closeFuture().addListener(f -> {
                            open.remove(ch);
                            deadline.cancel(false);
                        });
                        ch.pipeline().addLast(new HttpServerCodec(MAX_INITIAL_LINE, MAX_HEADER_SIZE, 8192), handler);
                    }
                });
        ChannelFuture bound = bootstrap.bind(new InetSocketAddress(address, config.port())).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly();
            Throwable cause = bound.cause();
            throw new IllegalStateException("admin endpoint: cannot listen on " + address.getHostAddress() + ":"
                    + config.port() + ": " + (cause.getMessage() == null ? cause : cause.getMessage()), cause);
        }
        AdminServer server = new AdminServer(group, bound.channel(), open);
        InetSocketAddress local = server.address();
        log.info("admin endpoint: http://{}:{}/metrics, /health, /status", host(local), local.getPort());
        if (!address.isLoopbackAddress()) {
            log.warn("admin endpoint bound to {}, which is not loopback: metrics and status (account names, session"
                    + " addresses) are readable from other hosts, without authentication", address.getHostAddress());
        }
        return Optional.of(server);
    }

    /** Makes room by closing the oldest connection still without a complete request; false when there is none. */
    private static boolean evictOneWaiting(Set<Channel> open) {
        for (Channel oldest : open) {
            if (!AdminHandler.answered(oldest)) {
                open.remove(oldest);
                log.warn("admin endpoint: {} connections open; closing the oldest still without a complete request,"
                        + " from {}, to answer a new one", MAX_CONNECTIONS, oldest.remoteAddress());
                AdminHandler.expire(oldest, "a new connection needed its place");
                return true;
            }
        }
        return false;
    }

    private static String host(InetSocketAddress a) {
        String h = a.getAddress().getHostAddress();
        return h.contains(":") ? "[" + h + "]" : h;
    }

    /** The bound address, with the real port when port 0 was configured. */
    public InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    /** Stops listening, closes open admin connections and the endpoint's event loop. */
    @Override
    public void close() {
        serverChannel.close().awaitUninterruptibly();
        // closed while the loop still runs its tasks, so each pipeline sees the close and frees a half-read request
        // (left to the loop's shutdown, a connection's handlers may never hear of it)
        EventLoop loop = serverChannel.eventLoop();
        loop.submit(() -> List.copyOf(open).forEach(Channel::close)).awaitUninterruptibly();
        loop.submit(() -> { }).awaitUninterruptibly(); // after the close events those closes queued
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
