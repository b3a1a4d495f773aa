package io.mailproxy.smtp;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamSession;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.codec.SmtpReplyDecoder;
import io.mailproxy.smtp.session.SmtpSettings;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.core.FakeLease;
import io.mailproxy.testkit.core.FakeListener;
import io.mailproxy.testkit.core.FakePools;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A proxy listening on loopback, relaying to a {@link FakeUpstream} through {@link FakePools} whose leases are fresh
 * connections (greeting and EHLO done, the way the connector hands a session over: AUTO_READ off, no handlers left).
 */
final class Fixture implements AutoCloseable {

    static final String ACCOUNT_FROM = "reports@contoso.com";

    final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    final ExecutorService executor = Executors.newSingleThreadExecutor();
    final FakeUpstream upstream;
    /** Clients answered on {@link #executor}, as the real (Argon2) authenticator answers off the event loop. */
    final FakeCore core = new FakeCore().withAuthExecutor(executor).withBlockingExecutor(executor);
    final FakePools pools = core.pools;
    final FakeListener listener;
    final SmtpSettings settings;
    private final Channel server;
    final SmtpFrontend frontend;
    /** Accepted client connections, for tests that act on the server side (shutdown). */
    final java.util.List<Channel> sessions = new java.util.concurrent.CopyOnWriteArrayList<>();

    Fixture() throws Exception {
        this(Optional.empty(), settings(35 * 1024 * 1024, 4096));
    }

    Fixture(Optional<String> fixedClient, SmtpSettings settings) throws Exception {
        this(listener(fixedClient), settings);
    }

    Fixture(FakeListener listener, SmtpSettings settings) throws Exception {
        this(listener, settings, -1);
    }

    /** @param upstreamPort a real SMTP server on loopback to relay to instead of the scripted one (-1: scripted) */
    Fixture(FakeListener listener, SmtpSettings settings, int upstreamPort) throws Exception {
        this(listener, settings, upstreamPort, null);
    }

    /** @param realPools pools to use instead of {@link FakePools} (core's PoolRegistry), or null */
    Fixture(FakeListener listener, SmtpSettings settings, int upstreamPort, UpstreamPools realPools) throws Exception {
        this(listener, settings, upstreamPort, realPools, null);
    }

    /** @param frontendFactory builds the frontend from this fixture and its services (a queue's spool and worker) */
    Fixture(FakeListener listener, SmtpSettings settings, int upstreamPort, UpstreamPools realPools,
            java.util.function.BiFunction<Fixture, CoreServices, SmtpFrontend> frontendFactory) throws Exception {
        this.upstream = new FakeUpstream();
        int port = upstreamPort < 0 ? upstream.port() : upstreamPort;
        pools.opening((account, protocol) -> connect(group, port)).onEnd(Fixture::end);
        if (realPools != null) {
            core.withPools(realPools);
        }
        this.listener = listener;
        this.settings = settings;
        AccountConfig account = account();
        addClient("app", "secret", SmtpPolicy.DEFAULT, account);
        addClient("rewriter", "secret", new SmtpPolicy(SmtpPolicy.Sender.REWRITE, SmtpPolicy.OriginalFrom.REPLY_TO, 0, false), account);
        addClient("dropper", "secret", new SmtpPolicy(SmtpPolicy.Sender.REWRITE, SmtpPolicy.OriginalFrom.DROP, 0, false), account);
        addClient("small", "secret", new SmtpPolicy(SmtpPolicy.Sender.KEEP, SmtpPolicy.OriginalFrom.REPLY_TO, 100, false), account);
        addClient("scanner@contoso.com", "", SmtpPolicy.DEFAULT, account);
        addClient("queuer", "secret", new SmtpPolicy(SmtpPolicy.Sender.KEEP, SmtpPolicy.OriginalFrom.REPLY_TO, 0, true), account);
        addClient("queue-rewriter", "secret", new SmtpPolicy(SmtpPolicy.Sender.REWRITE, SmtpPolicy.OriginalFrom.REPLY_TO, 0, true), account);
        frontend = frontendFactory == null ? new SmtpFrontend(core, settings) : frontendFactory.apply(this, core);
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        sessions.add(ch);
                        frontend.initChannel(ch, listener);
                    }
                })
                .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).syncUninterruptibly().channel();
    }

    static SmtpSettings settings(long maxSize, int headerLimit) {
        return SmtpSettingsBuilder.defaults().maxMessageSize(maxSize).headerLimit(headerLimit)
                .timeouts(Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(10)).build();
    }

    static AccountConfig account() {
        return new AccountConfig(ACCOUNT_FROM, ACCOUNT_FROM, "office365",
                new AuthConfig.Password(Optional.empty(), new SecretRef.Literal("x")), ACCOUNT_FROM, Map.of());
    }

    void addClient(String login, String password, SmtpPolicy policy, AccountConfig account) {
        ClientConfig client = new ClientConfig(login, Optional.of("hash"), account.name(), Set.of(Protocol.SMTP),
                ClientConfig.ImapPolicy.DEFAULT, ClientConfig.Pop3Policy.DEFAULT, policy);
        core.client(login, password, client, account);
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    SmtpTestClient client() throws Exception {
        return new SmtpTestClient(port());
    }

    /** A plaintext listener, with this fixed client if any. */
    static FakeListener listener(Optional<String> fixedClient) {
        FakeListener listener = new FakeListener(Protocol.SMTP);
        fixedClient.ifPresent(listener::fixedClient);
        return listener;
    }

    /** A connection to the SMTP server on {@code port}, greeting and EHLO done, handed over as the connector does. */
    static CompletableFuture<UpstreamSession> connect(EventLoopGroup group, int port) {
        CompletableFuture<UpstreamSession> result = new CompletableFuture<>();
        Set<String> caps = new HashSet<>();
        String[] greeting = new String[1];
        new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("hs-decoder", new SmtpReplyDecoder());
                        ch.pipeline().addLast("hs", new SimpleChannelInboundHandler<SmtpReply>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, SmtpReply reply) {
                                if (greeting[0] == null) {
                                    greeting[0] = reply.oneLine();
                                    ctx.writeAndFlush(ByteBufUtil.writeAscii(ctx.alloc(), "EHLO proxy.test\r\n"));
                                    return;
                                }
                                for (String l : reply.lines().subList(1, reply.lines().size())) {
                                    caps.add(l.toUpperCase(Locale.ROOT));
                                }
                                ctx.channel().config().setOption(ChannelOption.AUTO_READ, false);
                                ctx.pipeline().remove("hs-decoder");
                                ctx.pipeline().remove(this);
                                result.complete(new UpstreamSession(Protocol.SMTP, ctx.channel(), greeting[0], caps,
                                        Optional.empty()));
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                result.completeExceptionally(new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR,
                                        cause.toString()));
                                ctx.close();
                            }
                        });
                    }
                })
                .connect(InetAddress.getLoopbackAddress(), port).addListener(f -> {
                    if (!f.isSuccess()) {
                        result.completeExceptionally(new UpstreamException(UpstreamException.Kind.UNREACHABLE,
                                "connect failed"));
                    }
                });
        return result;
    }

    /** A real pool would send RSET and keep a clean channel; here the connection ends politely, or is closed. */
    private static void end(FakeLease lease, FakeLease.End how) {
        Channel ch = lease.session().channel();
        if (how == FakeLease.End.RELEASED) {
            ch.writeAndFlush(ByteBufUtil.writeAscii(ch.alloc(), "QUIT\r\n")).addListener(f -> ch.close());
        } else {
            ch.close();
        }
    }

    @Override
    public void close() throws Exception {
        server.close().syncUninterruptibly();
        frontend.close();
        upstream.close();
        group.shutdownGracefully(0, 2, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        executor.shutdownNow();
    }
}
