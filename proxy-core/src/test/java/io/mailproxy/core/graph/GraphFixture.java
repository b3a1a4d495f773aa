package io.mailproxy.core.graph;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AdminConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.credentials.DefaultUpstreamCredentials;
import io.mailproxy.core.credentials.FileSecretStore;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.credentials.TokenService;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.mailproxy.testkit.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import io.mailproxy.testkit.graph.FakeGraph;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** A GraphClient against the testkit's FakeGraph, with app-only tokens from the fake identity platform. */
final class GraphFixture implements AutoCloseable {
    static final String TENANT = "contoso.onmicrosoft.com";
    static final String SECRET = "app-secret-Q~0123456789";
    static final String MAILBOX = "reports@contoso.com";

    final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T20:00:00Z"));
    final ManualScheduler timers = new ManualScheduler(clock);
    final FakeIdentityPlatform idp;
    final FakeGraph graph;
    final FileSecretStore store;
    final TokenService tokens;
    final ExecutorService tokenExecutor = Executors.newSingleThreadExecutor();
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final GraphClient client;
    final DefaultUpstreamCredentials credentials;
    final AccountConfig account;
    final AccountConfig passwordAccount;

    GraphFixture(Path dir) {
        idp = FakeIdentityPlatform.start().clock(clock).registerClient("app", SECRET);
        graph = FakeGraph.start(idp).clock(clock).grantApplication("app", "Mail.Send", "Mail.ReadWrite");
        graph.acceptAudience(io.mailproxy.core.credentials.GraphScopes.audience(graph.baseUrl()));
        graph.mailbox(MAILBOX);
        byte[] key = new byte[32];
        java.util.Arrays.fill(key, (byte) 9);
        store = FileSecretStore.open(dir, Map.of("MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(key)));
        store.put("contoso-app", SECRET);
        tokens = TokenService.builder(store).executor(tokenExecutor).scheduler(Scheduler.of(timers)).clock(clock)
                .build();
        OAuth2ProviderConfig provider = provider(List.of(
                io.mailproxy.core.credentials.GraphScopes.audience(graph.baseUrl()) + "/.default"));
        UpstreamConfig upstream = new UpstreamConfig("graph", Optional.empty(), Map.of(),
                Optional.of(graph.baseUrl()), UpstreamConfig.Sending.GRAPH, Optional.of(graph.caPem()),
                Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(20));
        account = new AccountConfig(MAILBOX, MAILBOX, "graph", new AuthConfig.OAuth2("contoso",
                AuthConfig.Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()), MAILBOX,
                Map.of());
        passwordAccount = new AccountConfig("pw@contoso.com", "pw@contoso.com", "graph",
                new AuthConfig.Password(Optional.empty(), new SecretRef.Literal("pw")), "pw@contoso.com", Map.of());
        MailproxyConfig config = new MailproxyConfig("test", dir, List.of(), Map.of("graph", upstream),
                Map.of("contoso", provider), Map.of(account.name(), account), Map.of(),
                new AdminConfig(false, "127.0.0.1", 0), new LimitsConfig(100, 100, Duration.ofSeconds(1), 1),
                ConfigFactory.empty());
        credentials = new DefaultUpstreamCredentials(Map.of("contoso", provider), store,
                tokens, tokenExecutor, clock);
        client = GraphClient.create(() -> config, credentials, meters, clock, Scheduler.of(timers),
                u -> GraphSettings.DEFAULTS);
    }

    /** The test tenant's app registration, asking these scopes for app-only Graph tokens ({@code scopes.graph-app}). */
    OAuth2ProviderConfig provider(List<String> graphAppScopes) {
        return new OAuth2ProviderConfig("contoso", Optional.of(TENANT),
                idp.tokenEndpoint(TENANT), idp.deviceCodeEndpoint(TENANT), idp.authorizeEndpoint(TENANT), "app",
                Optional.of(SecretRef.parse("secret:contoso-app")), Optional.empty(), Optional.empty(),
                Optional.empty(), List.of(), List.of(), List.of(), List.of("https://outlook.office365.com/.default"),
                Optional.empty(), List.of(), List.of(), graphAppScopes);
    }

    double requests(String operation, String outcome) {
        var c = meters.find("mailproxy.graph.requests").tag("operation", operation).tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    @Override
    public void close() {
        client.close();
        tokens.close();
        tokenExecutor.shutdownNow();
        graph.close();
        idp.close();
    }

    /** A source of {@code size} bytes made as they are read (never an array of the whole), the same at each open. */
    static MimeSource generated(long size, long seed) {
        return new MimeSource() {
            @Override
            public long size() {
                return size;
            }

            @Override
            public InputStream open() {
                return new InputStream() {
                    private long pos;

                    @Override
                    public int read() {
                        return pos < size ? byteAt(seed, pos++) : -1;
                    }

                    @Override
                    public int read(byte[] b, int off, int len) {
                        if (pos >= size) {
                            return -1;
                        }
                        int n = (int) Math.min(len, size - pos);
                        for (int i = 0; i < n; i++) {
                            b[off + i] = (byte) byteAt(seed, pos++);
                        }
                        return n;
                    }
                };
            }
        };
    }

    static int byteAt(long seed, long pos) {
        long x = (pos + seed) * 0x9E3779B97F4A7C15L;
        return (int) ((x >>> 29) & 0x7f) | 0x20; // printable-ish: fine for attachments
    }

    static MimeSource bytes(byte[] data) {
        return new MimeSource() {
            @Override
            public long size() {
                return data.length;
            }

            @Override
            public InputStream open() {
                return new java.io.ByteArrayInputStream(data);
            }
        };
    }
}
