package io.mailproxy.core.pool;

import io.mailproxy.testkit.MutableClock;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamSession;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Stands for {@code NettyUpstreamConnector}: real Netty channels to a {@link FakeUpstream}, handed over as the
 * contract says ({@code "tls"} only, here a pass-through placeholder; AUTO_READ off), with a token expiry taken from
 * the test clock. Failures can be queued.
 */
final class FakeConnector implements UpstreamConnector {

    private final FakeUpstream upstream;
    private final EventLoopGroup group;
    private final MutableClock clock;
    private final Set<String> capabilities;
    private final Queue<UpstreamException> failures = new ConcurrentLinkedQueue<>();
    private final AtomicInteger connects = new AtomicInteger();
    private final List<Channel> opened = new CopyOnWriteArrayList<>();
    /** Token life of new connections; null for a password login (no expiry). */
    volatile Duration tokenLife = Duration.ofMinutes(60);
    /** When set, connections complete only once it completes. */
    volatile CompletableFuture<Void> gate;

    FakeConnector(FakeUpstream upstream, EventLoopGroup group, MutableClock clock, Set<String> capabilities) {
        this.upstream = upstream;
        this.group = group;
        this.clock = clock;
        this.capabilities = capabilities;
    }

    void failNext(UpstreamException e) {
        failures.add(e);
    }

    int connects() {
        return connects.get();
    }

    List<Channel> opened() {
        return List.copyOf(opened);
    }

    @Override
    public CompletableFuture<UpstreamSession> connect(AccountConfig account, Protocol protocol, EventLoop loop) {
        connects.incrementAndGet();
        UpstreamException failure = failures.poll();
        if (failure != null) {
            return CompletableFuture.failedFuture(failure);
        }
        Optional<java.time.Instant> expires = tokenLife == null ? Optional.empty()
                : Optional.of(clock.instant().plus(tokenLife));
        CompletableFuture<UpstreamSession> result = new CompletableFuture<>();
        new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("tls", new ChannelDuplexHandler());
                    }
                })
                .connect(upstream.address()).addListener(f -> {
                    if (!f.isSuccess()) {
                        result.completeExceptionally(new UpstreamException(UpstreamException.Kind.UNREACHABLE,
                                "connect failed", null, f.cause()));
                        return;
                    }
                    Channel ch = ((io.netty.channel.ChannelFuture) f).channel();
                    opened.add(ch);
                    UpstreamSession session = new UpstreamSession(protocol, ch,
                            protocol == Protocol.IMAP ? "* OK The Microsoft Exchange IMAP4 service is ready."
                                    : "220 outlook.office365.com ESMTP",
                            capabilities, expires);
                    CompletableFuture<Void> g = gate;
                    if (g == null) {
                        result.complete(session);
                    } else {
                        g.whenComplete((v, e) -> result.complete(session));
                    }
                });
        return result;
    }
}
