package io.mailproxy.pop3.testing;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.identity.LocalAuthenticator;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.mailproxy.core.upstream.UpstreamSession;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoop;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Supplier;

/** CoreServices for tests: one client "alice" with password "secret", account "acct"; upstreams supplied by the test. */
public final class FakeCore implements CoreServices {

    public static final AccountConfig ACCOUNT = new AccountConfig("acct", "acct@example.com", "up", null,
            "acct@example.com", Map.of());

    public volatile ClientConfig client = client(ClientConfig.Pop3Policy.DEFAULT);
    public volatile String password = "secret";
    /** Logins seen: name and password as the authenticator received them. */
    public final List<String> logins = new CopyOnWriteArrayList<>();
    /** What connector().connect returns (POP3 pass-through). */
    public volatile Supplier<CompletableFuture<UpstreamSession>> connect =
            () -> CompletableFuture.failedFuture(new IllegalStateException("no upstream in this test"));
    /** When set, connector().connect uses this instead of {@link #connect}, with the event loop it was given. */
    public volatile java.util.function.Function<EventLoop, CompletableFuture<UpstreamSession>> connectOn;
    /** What pools().acquire returns (POP3 over IMAP). */
    public volatile Supplier<CompletableFuture<Lease>> acquire =
            () -> CompletableFuture.failedFuture(new IllegalStateException("no pool in this test"));
    /** When set, every login is answered {@link LocalLogin.Throttled} (a name penalised after failures). */
    public volatile boolean throttled;
    /** When set, authentication completes only when the test completes this future. */
    public volatile CompletableFuture<Void> authGate;
    /** The {@code mailproxy} block the frontend reads its {@code pop3} section from (null: the defaults). */
    public volatile com.typesafe.config.Config raw;

    public static ClientConfig client(ClientConfig.Pop3Policy policy) {
        return new ClientConfig("alice", Optional.of("$argon2id$fake"), "acct", Set.of(Protocol.POP3),
                ClientConfig.ImapPolicy.DEFAULT, policy, ClientConfig.SmtpPolicy.DEFAULT);
    }

    @Override
    public MailproxyConfig config() {
        return new MailproxyConfig("test", null, List.of(), Map.of(), Map.of(), Map.of("acct", ACCOUNT),
                Map.of("alice", client), null, null, raw);
    }

    @Override
    public LocalAuthenticator authenticator() {
        return new LocalAuthenticator() {
            @Override
            public CompletableFuture<LocalLogin> authenticate(String login, byte[] pw, Protocol protocol,
                    SocketAddress remote) {
                String given = new String(pw, StandardCharsets.UTF_8);
                logins.add(login + ":" + given);
                LocalLogin result = throttled ? new LocalLogin.Throttled(login + " is slowed down")
                        : login.equals(client.login()) && given.equals(password)
                        ? new LocalLogin.Accepted(client, ACCOUNT)
                        : new LocalLogin.Rejected("wrong password for " + login);
                CompletableFuture<Void> gate = authGate;
                return gate == null ? CompletableFuture.completedFuture(result) : gate.thenApply(v -> result);
            }

            @Override
            public LocalLogin fixed(String login, Protocol protocol) {
                return new LocalLogin.Accepted(client, ACCOUNT);
            }
        };
    }

    @Override
    public UpstreamPools pools() {
        return (account, protocol) -> acquire.get();
    }

    @Override
    public UpstreamConnector connector() {
        return (AccountConfig account, Protocol protocol, EventLoop loop) ->
                connectOn != null ? connectOn.apply(loop) : connect.get();
    }

    public final SimpleMeterRegistry meters = new SimpleMeterRegistry();

    @Override
    public MeterRegistry meters() {
        return meters;
    }

    @Override
    public Clock clock() {
        return Clock.systemUTC();
    }

    @Override
    public Executor blockingExecutor() {
        return Runnable::run;
    }

    @Override
    public ScheduledExecutorService scheduler() {
        throw new UnsupportedOperationException();
    }
}
