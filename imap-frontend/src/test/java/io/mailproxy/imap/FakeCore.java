package io.mailproxy.imap;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.identity.LocalAuthenticator;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.ListenerContext;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamSession;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslHandler;
import com.typesafe.config.ConfigFactory;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/** Fake core services for frontend tests: a local authenticator with fixed clients and a pool handing out leases. */
public final class FakeCore implements CoreServices {

    public static final AccountConfig ACCOUNT = new AccountConfig("reports@contoso.com", "reports@contoso.com",
            "office365", new AuthConfig.Password(Optional.empty(), SecretRef.parse("pw")), "reports@contoso.com", Map.of());

    public final Map<String, ClientConfig> clients = new HashMap<>();
    private final Map<String, String> passwords = new HashMap<>();
    public final ArrayDeque<Object> leases = new ArrayDeque<>();
    public final List<FakeLease> handedOut = new ArrayList<>();
    public final List<String> logins = new ArrayList<>();
    /** Login names the authenticator answers {@link LocalLogin.Throttled} (penalised after failures). */
    public final java.util.Set<String> throttled = new java.util.HashSet<>();
    private MailproxyConfig config;

    public FakeCore client(String login, String password, ClientConfig.ImapPolicy policy, Protocol... protocols) {
        clients.put(login, new ClientConfig(login, Optional.of("$argon2id$fake"), ACCOUNT.name(), Set.of(protocols), policy,
                ClientConfig.Pop3Policy.DEFAULT, ClientConfig.SmtpPolicy.DEFAULT));
        passwords.put(login, password);
        return this;
    }

    /** The next acquire hands out a lease over {@code upstream}, whose login left these capabilities. */
    public FakeLease nextLease(EmbeddedChannel upstream, String... capabilities) {
        return nextLease(upstream, Optional.empty(), capabilities);
    }

    /** Same, with a token expiring at {@code expires}. */
    public FakeLease nextLease(EmbeddedChannel upstream, Optional<java.time.Instant> expires, String... capabilities) {
        FakeLease lease = new FakeLease(new UpstreamSession(Protocol.IMAP, upstream, "* OK ready", Set.of(capabilities),
                expires));
        leases.add(lease);
        return lease;
    }

    /** The next acquire fails. */
    public void nextFailure(UpstreamException e) {
        leases.add(e);
    }

    /** Configuration under {@code mailproxy} for the next start (HOCON), over the defaults. */
    public FakeCore configure(String hocon) {
        config = new MailproxyConfig("test", Path.of("state"), List.of(), Map.of(), Map.of(), Map.of(), clients,
                null, null, ConfigFactory.parseString(hocon).atPath("mailproxy").withFallback(ConfigFactory.load()).getConfig("mailproxy"));
        return this;
    }

    @Override
    public MailproxyConfig config() {
        if (config == null) {
            config = new MailproxyConfig("test", Path.of("state"), List.of(), Map.of(), Map.of(), Map.of(), clients,
                    null, null, ConfigFactory.load().getConfig("mailproxy"));
        }
        return config;
    }

    /** When set, the authenticator instead of the fake one (core's LocalIdentities, for end-to-end tests). */
    public LocalAuthenticator realAuthenticator;

    @Override
    public LocalAuthenticator authenticator() {
        if (realAuthenticator != null) {
            return realAuthenticator;
        }
        return new LocalAuthenticator() {
            @Override
            public CompletableFuture<LocalLogin> authenticate(String login, byte[] password, Protocol protocol,
                                                              SocketAddress remote) {
                logins.add(login);
                if (throttled.contains(login)) {
                    return CompletableFuture.completedFuture(new LocalLogin.Throttled(login + " is slowed down"));
                }
                ClientConfig c = clients.get(login);
                if (c == null || !passwords.get(login).equals(new String(password, StandardCharsets.UTF_8))) {
                    return CompletableFuture.completedFuture(new LocalLogin.Rejected("wrong password for " + login));
                }
                if (!c.allows(protocol)) {
                    return CompletableFuture.completedFuture(new LocalLogin.Rejected(login + " may not use " + protocol));
                }
                return CompletableFuture.completedFuture(new LocalLogin.Accepted(c, ACCOUNT));
            }

            @Override
            public LocalLogin fixed(String login, Protocol protocol) {
                throw new UnsupportedOperationException();
            }
        };
    }

    /** When set, acquire goes here instead of the scripted leases. */
    public UpstreamPools pools;

    @Override
    public UpstreamPools pools() {
        if (pools != null) {
            return pools;
        }
        return (account, protocol) -> {
            Object next = leases.poll();
            if (next instanceof FakeLease l) {
                handedOut.add(l);
                return CompletableFuture.completedFuture(l);
            }
            if (next instanceof UpstreamException e) {
                return CompletableFuture.failedFuture(e);
            }
            return CompletableFuture.failedFuture(new UpstreamException(UpstreamException.Kind.UNREACHABLE, "no lease"));
        };
    }

    @Override
    public UpstreamConnector connector() {
        throw new UnsupportedOperationException();
    }

    public final MeterRegistry meters = new SimpleMeterRegistry();

    @Override
    public MeterRegistry meters() {
        return meters;
    }

    /** The injected clock (fixed; tests move it with the channels' scheduler time). */
    public Clock clock = Clock.fixed(java.time.Instant.parse("2026-11-25T21:00:00Z"), java.time.ZoneOffset.UTC);

    @Override
    public Clock clock() {
        return clock;
    }

    @Override
    public Executor blockingExecutor() {
        return Runnable::run;
    }

    @Override
    public ScheduledExecutorService scheduler() {
        throw new UnsupportedOperationException();
    }

    /** A lease that records how it ended. */
    public static final class FakeLease implements Lease {
        private final UpstreamSession session;
        public final List<String> endings = new ArrayList<>();
        /** What the relay reported with {@link #reportThrottled(java.time.Duration)}. */
        public final List<java.time.Duration> throttled = new ArrayList<>();
        public List<String> handlersAtEnd;
        /** The relay told the pool that the upstream no longer takes this lease's token. */
        public boolean tokenRejected;

        FakeLease(UpstreamSession session) {
            this.session = session;
        }

        @Override
        public UpstreamSession session() {
            return session;
        }

        @Override
        public void release(boolean dirty) {
            handlersAtEnd = session.channel().pipeline().names();
            endings.add(dirty ? "release(dirty)" : "release(clean)");
        }

        @Override
        public void tokenRejected() {
            tokenRejected = true;
        }

        @Override
        public void discard() {
            handlersAtEnd = session.channel().pipeline().names();
            endings.add("discard");
        }

        @Override
        public void reportThrottled(java.time.Duration backoff) {
            throttled.add(backoff);
        }
    }

    /** A plaintext listener (STARTTLS only if asked for). */
    public static final class FakeListener implements ListenerContext {
        public final List<Channel> authenticated = new ArrayList<>();
        public boolean startTls;
        public SslHandler ssl;

        @Override
        public ListenerConfig config() {
            return new ListenerConfig(Protocol.IMAP, "127.0.0.1", 1143, Optional.empty(), List.of(), Optional.empty());
        }

        @Override
        public boolean startTlsAvailable() {
            return startTls;
        }

        @Override
        public Optional<SslHandler> newServerSslHandler(Channel channel) {
            return Optional.ofNullable(ssl);
        }

        @Override
        public boolean isSecure(Channel channel) {
            return channel.pipeline().get("tls") != null;
        }

        @Override
        public Optional<String> fixedClient() {
            return Optional.empty();
        }

        @Override
        public void authenticated(Channel channel) {
            authenticated.add(channel);
        }

        @Override
        public String sessionId(Channel channel) {
            return "s1";
        }
    }
}
