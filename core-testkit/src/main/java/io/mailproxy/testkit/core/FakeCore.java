package io.mailproxy.testkit.core;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.graph.GraphMail;
import io.mailproxy.core.identity.LocalAuthenticator;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamSession;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Core services for frontend tests, configured in place: clients with plain-text passwords (answered by a fake
 * authenticator, or by a real one), {@link FakePools} (scripted leases, or a fresh connection per lease), a connector
 * the test supplies (POP3 pass-through), one meter registry, and an injected clock and executors. Fields a test
 * changes mid-test are public and volatile; the rest is set up with the {@code with*} methods.
 */
public final class FakeCore implements CoreServices {

    /** The account every client belongs to unless a test says otherwise. */
    public static final AccountConfig ACCOUNT = new AccountConfig("reports@contoso.com", "reports@contoso.com",
            "office365", new AuthConfig.Password(Optional.empty(), SecretRef.parse("pw")), "reports@contoso.com", Map.of());
    /** A fixed instant for tests that move time themselves (the channels' scheduler time). */
    public static final Clock FIXED_CLOCK = Clock.fixed(Instant.parse("2026-11-25T21:00:00Z"), ZoneOffset.UTC);

    /** A client entry: its password in plain text, its configuration and its account. */
    public record Entry(String password, ClientConfig client, AccountConfig account) { }

    /** Clients by login name. */
    public final Map<String, Entry> clients = new ConcurrentHashMap<>();
    /** Logins the fake authenticator saw, as "name:password". */
    public final List<String> logins = new CopyOnWriteArrayList<>();
    /** Login names the fake authenticator answers {@link LocalLogin.Throttled} (penalised after failures). */
    public final Set<String> throttled = ConcurrentHashMap.newKeySet();
    /** When set, the fake authenticator answers only once the test completes this future. */
    public volatile CompletableFuture<Void> authGate;
    /** The pools {@link #pools()} answers with, unless {@link #withPools} replaced them. */
    public final FakePools pools = new FakePools();
    /** Every lease {@link #pools} handed out (the same list as {@code pools.handedOut}). */
    public final List<FakeLease> handedOut = pools.handedOut;
    /** What connector().connect returns (POP3 pass-through). */
    public volatile Supplier<CompletableFuture<UpstreamSession>> connect =
            () -> CompletableFuture.failedFuture(new IllegalStateException("no upstream in this test"));
    /** When set, connector().connect uses this instead of {@link #connect}, with the event loop it was given. */
    public volatile Function<EventLoop, CompletableFuture<UpstreamSession>> connectOn;
    public final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    /** Upstreams by name (none unless a test adds one: an account's {@code send-with = graph}, say). */
    private final Map<String, io.mailproxy.core.config.UpstreamConfig> upstreams = new ConcurrentHashMap<>();
    /** What {@link #graph()} returns; a test of a Graph path sets it. */
    public volatile GraphMail graph;
    /** The injected clock (the system's unless a test sets one, e.g. {@link #FIXED_CLOCK}). */
    public volatile Clock clock = Clock.systemUTC();

    private volatile LocalAuthenticator realAuthenticator;
    private volatile UpstreamPools realPools;
    private volatile Executor authExecutor = Runnable::run;
    private volatile Executor blockingExecutor = Runnable::run;
    private volatile ScheduledExecutorService scheduler;
    private volatile Config raw = ConfigFactory.empty();
    private volatile MailproxyConfig config;

    /** Adds a client of {@link #ACCOUNT} with this IMAP policy, allowed these protocols. */
    public FakeCore client(String login, String password, ClientConfig.ImapPolicy policy, Protocol... protocols) {
        return client(login, password, new ClientConfig(login, Optional.of("$argon2id$fake"), ACCOUNT.name(),
                Set.of(protocols), policy, ClientConfig.Pop3Policy.DEFAULT, ClientConfig.SmtpPolicy.DEFAULT));
    }

    /** Adds a POP3 client of {@link #ACCOUNT} with this POP3 policy. */
    public FakeCore client(String login, String password, ClientConfig.Pop3Policy policy) {
        return client(login, password, new ClientConfig(login, Optional.of("$argon2id$fake"), ACCOUNT.name(),
                Set.of(Protocol.POP3), ClientConfig.ImapPolicy.DEFAULT, policy, ClientConfig.SmtpPolicy.DEFAULT));
    }

    /** Adds (or replaces) a client of {@link #ACCOUNT}. */
    public FakeCore client(String login, String password, ClientConfig client) {
        return client(login, password, client, ACCOUNT);
    }

    /** Adds (or replaces) a client of {@code account}. */
    public FakeCore client(String login, String password, ClientConfig client, AccountConfig account) {
        clients.put(login, new Entry(password, client, account));
        config = null;
        return this;
    }

    /** The next acquire hands out an IMAP lease over {@code upstream}, whose login left these capabilities. */
    public FakeLease nextLease(Channel upstream, String... capabilities) {
        return pools.nextLease(upstream, capabilities);
    }

    /** Same, with a token expiring at {@code expires}. */
    public FakeLease nextLease(Channel upstream, Optional<Instant> expires, String... capabilities) {
        return pools.nextLease(upstream, expires, capabilities);
    }

    /** The next acquire fails. */
    public void nextFailure(UpstreamException e) {
        pools.nextFailure(e);
    }

    /** Adds (or replaces) an upstream, for accounts that name it. */
    public FakeCore upstream(io.mailproxy.core.config.UpstreamConfig upstream) {
        upstreams.put(upstream.name(), upstream);
        config = null;
        return this;
    }

    /** Configuration under {@code mailproxy} (HOCON), over the defaults of every reference.conf. */
    public FakeCore configure(String hocon) {
        raw = ConfigFactory.parseString(hocon).atPath("mailproxy").withFallback(ConfigFactory.load()).getConfig("mailproxy");
        config = null;
        return this;
    }

    /** Answers logins with {@code authenticator} (core's LocalIdentities, for end-to-end tests) instead of the fake. */
    public FakeCore withAuthenticator(LocalAuthenticator authenticator) {
        this.realAuthenticator = authenticator;
        return this;
    }

    /** The fake authenticator answers on {@code executor}, as the real one does off the event loop. */
    public FakeCore withAuthExecutor(Executor executor) {
        this.authExecutor = executor;
        return this;
    }

    /** Acquire goes to {@code pools} (core's PoolRegistry, a lambda) instead of {@link #pools}. */
    public FakeCore withPools(UpstreamPools pools) {
        this.realPools = pools;
        return this;
    }

    public FakeCore withClock(Clock clock) {
        this.clock = clock;
        return this;
    }

    public FakeCore withBlockingExecutor(Executor executor) {
        this.blockingExecutor = executor;
        return this;
    }

    public FakeCore withScheduler(ScheduledExecutorService scheduler) {
        this.scheduler = scheduler;
        return this;
    }

    /** The clients and their accounts, with the configured sections (or none: every reference.conf default). */
    @Override
    public MailproxyConfig config() {
        MailproxyConfig c = config;
        if (c == null) {
            Map<String, AccountConfig> accounts = new LinkedHashMap<>();
            Map<String, ClientConfig> byLogin = new LinkedHashMap<>();
            clients.forEach((login, e) -> {
                accounts.put(e.account().name(), e.account());
                byLogin.put(login, e.client());
            });
            c = new MailproxyConfig("test", Path.of("state"), List.of(), upstreams, Map.of(), accounts, byLogin,
                    null, null, raw);
            config = c;
        }
        return c;
    }

    @Override
    public LocalAuthenticator authenticator() {
        LocalAuthenticator real = realAuthenticator;
        return real != null ? real : fake;
    }

    private final LocalAuthenticator fake = new LocalAuthenticator() {
        @Override
        public CompletableFuture<LocalLogin> authenticate(String login, byte[] password, Protocol protocol,
                                                          SocketAddress remote) {
            String given = new String(password, StandardCharsets.UTF_8);
            logins.add(login + ":" + given);
            CompletableFuture<LocalLogin> result = CompletableFuture.supplyAsync(() -> check(login, given, protocol),
                    authExecutor);
            CompletableFuture<Void> gate = authGate;
            return gate == null ? result : gate.thenCompose(v -> result);
        }

        @Override
        public LocalLogin fixed(String login, Protocol protocol) {
            Entry e = clients.get(login);
            return e == null ? new LocalLogin.Rejected("no such client " + login)
                    : new LocalLogin.Accepted(e.client(), e.account());
        }
    };

    private LocalLogin check(String login, String password, Protocol protocol) {
        if (throttled.contains(login)) {
            return new LocalLogin.Throttled(login + " is slowed down");
        }
        Entry e = clients.get(login);
        if (e == null || !e.password().equals(password)) {
            return new LocalLogin.Rejected("wrong password for " + login);
        }
        if (!e.client().allows(protocol)) {
            return new LocalLogin.Rejected(login + " may not use " + protocol);
        }
        return new LocalLogin.Accepted(e.client(), e.account());
    }

    @Override
    public UpstreamPools pools() {
        UpstreamPools real = realPools;
        return real != null ? real : pools;
    }

    @Override
    public GraphMail graph() {
        GraphMail g = graph;
        if (g == null) {
            throw new IllegalStateException("no Microsoft Graph in this test");
        }
        return g;
    }

    @Override
    public UpstreamConnector connector() {
        return (AccountConfig account, Protocol protocol, EventLoop loop) -> {
            Function<EventLoop, CompletableFuture<UpstreamSession>> on = connectOn;
            return on != null ? on.apply(loop) : connect.get();
        };
    }

    @Override
    public MeterRegistry meters() {
        return meters;
    }

    @Override
    public Clock clock() {
        return clock;
    }

    @Override
    public Executor blockingExecutor() {
        return blockingExecutor;
    }

    @Override
    public ScheduledExecutorService scheduler() {
        ScheduledExecutorService s = scheduler;
        if (s == null) {
            throw new UnsupportedOperationException("no scheduler in this test");
        }
        return s;
    }
}
