package io.mailproxy.core.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AdminConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.config.UpstreamEndpoint;
import io.mailproxy.core.credentials.AccessToken;
import io.mailproxy.core.credentials.UpstreamCredentials;
import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import io.mailproxy.core.tls.ClientTls;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;

/** A connector against one upstream, with a fake credential source; for the connector's tests. */
final class ConnectorFixture implements AutoCloseable {

    static final Instant EXPIRES = Instant.parse("2026-11-25T22:00:00Z");

    final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    final List<String> invalidated = new CopyOnWriteArrayList<>();
    private final List<io.netty.channel.Channel> opened = new CopyOnWriteArrayList<>();
    private Login login;
    private java.util.function.Supplier<CompletableFuture<Login>> loginSource;
    private Duration connectTimeout = Duration.ofSeconds(5);
    private Duration handshakeTimeout = Duration.ofSeconds(5);
    private Duration replyTimeout = Duration.ofSeconds(5);
    private Optional<Path> caFile = Optional.empty();
    private ClientTls tls = new ClientTls();
    private NettyUpstreamConnector.HostResolver hosts = NettyUpstreamConnector.HostResolver.JDK;
    private MeterRegistry meters;
    private java.util.concurrent.Executor blocking = ForkJoinPool.commonPool();
    /** The host names the connector looked up, and on which threads. */
    final List<String> lookups = new CopyOnWriteArrayList<>();

    ConnectorFixture bearer(String user, String token) {
        this.login = new Login.Bearer(user, new AccessToken(token, EXPIRES));
        return this;
    }

    ConnectorFixture password(String user, String password) {
        this.login = new Login.Password(user, password);
        return this;
    }

    /** Replaces the fake credential source (a failing or never-completing future). */
    ConnectorFixture credentials(java.util.function.Supplier<CompletableFuture<Login>> source) {
        this.loginSource = source;
        return this;
    }

    ConnectorFixture caFile(Path ca) {
        this.caFile = Optional.of(ca);
        return this;
    }

    ConnectorFixture timeouts(Duration connect, Duration handshake, Duration reply) {
        this.connectTimeout = connect;
        this.handshakeTimeout = handshake;
        this.replyTimeout = reply;
        return this;
    }

    /** Replaces the JDK's host name lookup (a host with several loopback addresses). */
    ConnectorFixture hosts(NettyUpstreamConnector.HostResolver hosts) {
        this.hosts = hosts;
        return this;
    }

    /** Replaces the executor the connector runs its blocking steps on (ca-file, host name lookup). */
    ConnectorFixture blocking(java.util.concurrent.Executor blocking) {
        this.blocking = blocking;
        return this;
    }

    ConnectorFixture meters(MeterRegistry meters) {
        this.meters = meters;
        return this;
    }

    ConnectorFixture tls(ClientTls tls) {
        this.tls = tls;
        return this;
    }

    /** Connects to {@code url} (e.g. {@code smtp+starttls://127.0.0.1:1234}) as account {@code reports@contoso.com}. */
    CompletableFuture<UpstreamSession> connect(String url) {
        UpstreamEndpoint endpoint = UpstreamEndpoint.parse(url);
        UpstreamConfig upstream = new UpstreamConfig("test", Optional.empty(), Map.of(endpoint.protocol(), endpoint),
                Optional.empty(), UpstreamConfig.Sending.SMTP,
                caFile, connectTimeout, handshakeTimeout, replyTimeout);
        AccountConfig account = new AccountConfig("reports@contoso.com", "reports@contoso.com", "test",
                new AuthConfig.Password(Optional.empty(), new SecretRef.Literal("x")), "reports@contoso.com", Map.of());
        MailproxyConfig config = new MailproxyConfig("test", Paths.get("state"), List.of(), Map.of("test", upstream),
                Map.of(), Map.of(account.name(), account), Map.of(), new AdminConfig(false, "127.0.0.1", 0),
                new LimitsConfig(100, 100, Duration.ofSeconds(1), 1), ConfigFactory.empty());
        Login l = login;
        java.util.function.Supplier<CompletableFuture<Login>> source = loginSource;
        UpstreamCredentials credentials = new UpstreamCredentials() {
            @Override
            public CompletableFuture<Login> loginFor(AccountConfig a, Protocol p) {
                return source != null ? source.get() : CompletableFuture.supplyAsync(() -> l);
            }

            @Override
            public void invalidate(AccountConfig a, Protocol p) {
                invalidated.add(a.name() + "/" + p);
            }
        };
        NettyUpstreamConnector.HostResolver lookup = hosts;
        NettyUpstreamConnector connector = new NettyUpstreamConnector(group, NioSocketChannel.class, () -> config,
                credentials, tls, Clock.systemUTC(), blocking, meters, host -> {
                    lookups.add(host + (group.next().inEventLoop() ? " on the event loop" : " off the event loop"));
                    return lookup.resolve(host);
                });
        CompletableFuture<UpstreamSession> f = connector.connect(account, endpoint.protocol(), null);
        f.thenAccept(s -> opened.add(s.channel()));
        return f;
    }

    UpstreamSession session(String url) throws Exception {
        return connect(url).get(10, TimeUnit.SECONDS);
    }

    /** The typed failure of a connection attempt that must fail. */
    UpstreamException failure(String url) {
        return failure(connect(url));
    }

    /** The typed failure of an attempt already started. */
    UpstreamException failure(CompletableFuture<UpstreamSession> attempt) {
        Throwable t = catchThrowable(() -> attempt.get(10, TimeUnit.SECONDS));
        assertThat(t).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(UpstreamException.class);
        return (UpstreamException) t.getCause();
    }

    @Override
    public void close() {
        for (io.netty.channel.Channel c : opened) {
            c.close().awaitUninterruptibly(2, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
