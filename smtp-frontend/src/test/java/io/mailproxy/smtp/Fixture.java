package io.mailproxy.smtp;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.PoolConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.identity.LocalAuthenticator;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.mailproxy.smtp.session.SmtpSettings;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/** A proxy listening on loopback, relaying to a {@link FakeUpstream} through {@link FakePools}. */
final class Fixture implements AutoCloseable {

    static final String ACCOUNT_FROM = "reports@contoso.com";

    final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    final ExecutorService executor = Executors.newSingleThreadExecutor();
    final FakeUpstream upstream;
    final FakePools pools;
    private final UpstreamPools realPools;
    final FakeAuthenticator authenticator = new FakeAuthenticator(executor);
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
        this(new FakeListener(fixedClient), settings);
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
        this.realPools = realPools;
        this.upstream = new FakeUpstream();
        this.pools = new FakePools(group, upstreamPort < 0 ? upstream.port() : upstreamPort);
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
        frontend = frontendFactory == null ? new SmtpFrontend(services(), settings) : frontendFactory.apply(this, services());
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
        return new SmtpSettings("mx.test", 1000, maxSize, headerLimit, 100, Duration.ofSeconds(30),
                Duration.ofSeconds(30), Duration.ofSeconds(10), true, true);
    }

    static AccountConfig account() {
        return new AccountConfig(ACCOUNT_FROM, ACCOUNT_FROM, "office365",
                new AuthConfig.Password(Optional.empty(), new SecretRef.Literal("x")), ACCOUNT_FROM, Map.of());
    }

    void addClient(String login, String password, SmtpPolicy policy, AccountConfig account) {
        ClientConfig client = new ClientConfig(login, Optional.of("hash"), account.name(), Set.of(Protocol.SMTP),
                ClientConfig.ImapPolicy.DEFAULT, ClientConfig.Pop3Policy.DEFAULT, policy);
        authenticator.clients.put(login, new FakeAuthenticator.Entry(password, client, account));
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    SmtpTestClient client() throws Exception {
        return new SmtpTestClient(port());
    }

    CoreServices services() {
        return new CoreServices() {
            @Override
            public MailproxyConfig config() {
                throw new UnsupportedOperationException("not used by the session");
            }

            @Override
            public LocalAuthenticator authenticator() {
                return authenticator;
            }

            @Override
            public UpstreamPools pools() {
                return realPools != null ? realPools : pools;
            }

            @Override
            public UpstreamConnector connector() {
                throw new UnsupportedOperationException("SMTP uses the pool");
            }

            @Override
            public MeterRegistry meters() {
                return new SimpleMeterRegistry();
            }

            @Override
            public Clock clock() {
                return Clock.systemUTC();
            }

            @Override
            public Executor blockingExecutor() {
                return executor;
            }

            @Override
            public ScheduledExecutorService scheduler() {
                throw new UnsupportedOperationException();
            }
        };
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
