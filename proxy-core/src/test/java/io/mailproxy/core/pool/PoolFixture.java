package io.mailproxy.core.pool;

import io.mailproxy.testkit.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.config.PoolConfig;
import io.mailproxy.core.config.SecretRef;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

/** One upstream, connector, clock, scheduler and registry for a test; closed after it. */
final class PoolFixture implements AutoCloseable {

    static final String ACCOUNT = "reports@contoso.com";
    static final Instant START = Instant.parse("2026-11-25T20:00:00Z");

    final Protocol protocol;
    final MutableClock clock = new MutableClock(START);
    final ManualScheduler scheduler = new ManualScheduler(clock);
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final FakeUpstream upstream;
    final FakeConnector connector;
    final AtomicReference<MailproxyConfig> config = new AtomicReference<>();
    final PoolRegistry registry;
    volatile AccountConfig account;

    PoolFixture(EventLoopGroup group, Protocol protocol, Set<String> capabilities, PoolConfig pool)
            throws InterruptedException {
        this.protocol = protocol;
        this.upstream = new FakeUpstream(protocol, group);
        this.connector = new FakeConnector(upstream, group, clock, capabilities);
        configure(pool);
        PoolEnv env = new PoolEnv(connector, clock, scheduler, meters, new SplittableRandom(7),
                Duration.ofSeconds(15), Duration.ofSeconds(30), Duration.ofMinutes(10), Duration.ofSeconds(5),
                new AtomicLong());
        this.registry = new PoolRegistry(env, config::get, Duration.ofSeconds(5));
    }

    /** Settings: max 2, min-idle 0, wait 10 s, min token life 10 min, probe after 30 s, idle 5 min, keep-alive 4 min. */
    static PoolConfig pool(int max, int minIdle) {
        return new PoolConfig(max, minIdle, Duration.ofSeconds(10), Duration.ofMinutes(10), Duration.ofSeconds(30),
                Duration.ofMinutes(5), Duration.ofMinutes(4));
    }

    /** Replaces the configuration (as a reload does) with one account using {@code pool} for the protocol. */
    void configure(PoolConfig pool) {
        configure(pool, "pw");
    }

    /** The same, with this upstream password for the account (a reload that changes its credentials). */
    void configure(PoolConfig pool, String upstreamPassword) {
        configure(pool, upstreamPassword, Map.of());
    }

    /** The same, with the account's upstream ({@code office365}) given; none by default. */
    void configure(PoolConfig pool, String upstreamPassword, Map<String, UpstreamConfig> upstreams) {
        account = new AccountConfig(ACCOUNT, ACCOUNT, "office365",
                new AuthConfig.Password(Optional.empty(), new SecretRef.Literal(upstreamPassword)), ACCOUNT,
                Map.of(protocol, pool));
        config.set(new MailproxyConfig("test", Path.of("state"), List.of(), upstreams, Map.of(),
                Map.of(ACCOUNT, account), Map.of(), null, null, null));
    }

    CompletableFuture<Lease> acquire() {
        return registry.acquire(account, protocol);
    }

    Lease lease() throws Exception {
        return acquire().get(5, TimeUnit.SECONDS);
    }

    PoolSnapshot snapshot() {
        List<PoolSnapshot> all = registry.snapshot();
        return all.isEmpty() ? null : all.get(0);
    }

    int idle() {
        PoolSnapshot s = snapshot();
        return s == null ? 0 : s.idle();
    }

    /** The server-side connection number of a lease's channel. */
    int serverId(Lease lease) {
        return upstream.idOf(lease.session().channel());
    }

    /**
     * Plays the part of a session on a leased channel: adds a handler after "tls", sends {@code line}, reads until
     * {@code last} matches a line, removes the handler again (AUTO_READ stays off), and returns the lines.
     */
    static List<String> converse(Lease lease, String line, Predicate<String> last) throws Exception {
        Channel ch = lease.session().channel();
        CompletableFuture<List<String>> done = new CompletableFuture<>();
        ChannelInboundHandlerAdapter handler = new ChannelInboundHandlerAdapter() {
            private final StringBuilder text = new StringBuilder();
            private final List<String> lines = new ArrayList<>();

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf buf = (ByteBuf) msg;
                try {
                    text.append(buf.toString(StandardCharsets.UTF_8));
                } finally {
                    buf.release();
                }
                int i;
                while ((i = text.indexOf("\r\n")) >= 0) {
                    String l = text.substring(0, i);
                    text.delete(0, i + 2);
                    lines.add(l);
                    if (last.test(l)) {
                        ctx.pipeline().remove(this);
                        done.complete(lines);
                        return;
                    }
                }
            }

            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                if (!done.isDone()) {
                    ctx.read();
                }
            }
        };
        ch.eventLoop().submit(() -> {
            ch.pipeline().addAfter("tls", "session", handler);
            ch.writeAndFlush(ByteBufUtil.writeAscii(ch.alloc(), line + "\r\n"));
            ch.read();
        }).sync();
        return done.get(5, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws Exception {
        registry.close();
        upstream.close();
        for (Channel ch : connector.opened()) {
            ch.close().sync();
        }
    }
}
