package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.credentials.AccessToken;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.credentials.UpstreamCredentials;
import io.mailproxy.core.graph.GraphClient;
import io.mailproxy.core.graph.GraphSettings;
import io.mailproxy.pop3.testing.Pop3Client;
import io.mailproxy.pop3.testing.ProxyServer;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.graph.FakeGraph;
import io.mailproxy.testkit.graph.GraphFault;
import io.mailproxy.testkit.graph.GraphMailbox;
import io.mailproxy.testkit.graph.GraphMessage;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * source = graph end to end: a POP3 client, the proxy, the real {@link GraphClient} over HTTPS, and the testkit's
 * {@link FakeGraph}. Messages compared byte for byte with what the fake serves.
 */
class GraphEndToEndTest {

    /** Graph takes only OAuth 2.0 tokens: an account with an OAuth2 login (its tokens come from the stub below). */
    private static final AccountConfig ACCOUNT = new AccountConfig(FakeCore.ACCOUNT.name(), FakeCore.ACCOUNT.mailbox(),
            FakeCore.ACCOUNT.upstream(), new AuthConfig.OAuth2("entra", AuthConfig.Grant.CLIENT_CREDENTIALS,
                    Optional.empty(), Optional.empty(), Optional.empty()), FakeCore.ACCOUNT.from(), Map.of());

    private FakeGraph fake;
    private GraphMailbox mailbox;
    private GraphClient graph;
    private ScheduledExecutorService timers;
    private ProxyServer proxy;

    @BeforeEach
    void start() throws Exception {
        fake = FakeGraph.start().acceptToken("graph-token", "app-1", "Mail.ReadWrite");
        mailbox = fake.mailbox(ACCOUNT.mailbox());
        mailbox.folder("deleteditems");
        UpstreamConfig upstream = new UpstreamConfig(ACCOUNT.upstream(), Optional.empty(), Map.of(),
                Optional.of(fake.baseUrl()), UpstreamConfig.Sending.SMTP, Optional.of(fake.caPem()),
                Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(30));
        MailproxyConfig config = new MailproxyConfig("test", Path.of("state"), List.of(),
                Map.of(upstream.name(), upstream), Map.of(), Map.of(ACCOUNT.name(), ACCOUNT), Map.of(), null, null,
                ConfigFactory.empty());
        UpstreamCredentials credentials = new UpstreamCredentials() {
            @Override
            public CompletableFuture<Login> loginFor(AccountConfig account, Protocol protocol) {
                return CompletableFuture.failedFuture(new IllegalStateException("no mail protocols here"));
            }

            @Override
            public CompletableFuture<AccessToken> graphToken(AccountConfig account, URI graphBase) {
                return CompletableFuture.completedFuture(new AccessToken("graph-token", Instant.now().plusSeconds(3600)));
            }
        };
        timers = Executors.newSingleThreadScheduledExecutor();
        graph = GraphClient.create(() -> config, credentials, new SimpleMeterRegistry(), Clock.systemUTC(),
                Scheduler.of(timers), u -> GraphSettings.DEFAULTS);
        proxy = new ProxyServer(1, "u", "p");
        proxy.core.graph = graph;
        policy("expunge");
    }

    @AfterEach
    void stop() {
        proxy.close();
        graph.close();
        timers.shutdownNow();
        fake.close();
    }

    private void policy(String onDelete) {
        policy("inbox", onDelete);
    }

    private void policy(String folder, String onDelete) {
        proxy.core.client("alice", "secret", new ClientConfig("alice", Optional.of("$argon2id$fake"), ACCOUNT.name(),
                Set.of(Protocol.POP3), ClientConfig.ImapPolicy.DEFAULT,
                new Pop3Policy(Pop3Policy.Source.GRAPH, folder, false, OnDelete.parse(onDelete)),
                ClientConfig.SmtpPolicy.DEFAULT), ACCOUNT);
    }

    private Pop3Client login() throws Exception {
        return GraphMaildropTest.login(proxy.port());
    }

    private GraphMessage deliver(String subject, int lines) {
        return mailbox.deliver(GraphMaildropTest.message(subject, lines).getBytes(StandardCharsets.ISO_8859_1));
    }

    @Test
    void aFolderOfThreePagesIsListedRetrievedByteForByteAndExpungedAtQuit() throws Exception {
        List<GraphMessage> delivered = new ArrayList<>();
        for (int i = 0; i < 205; i++) {
            delivered.add(deliver("m" + i, i % 17));
        }
        delivered.get(3).sizeEstimate(777);
        List<String> uidls;
        try (Pop3Client c = login()) {
            assertThat(c.command("STAT")).startsWith("+OK 205 ");
            assertThat(c.command("LIST 4")).isEqualTo("+OK 4 777");
            assertThat(c.command("UIDL")).startsWith("+OK");
            uidls = Arrays.asList(new String(c.body(), StandardCharsets.US_ASCII).split("\r\n"));
            assertThat(uidls).hasSize(205).allMatch(l -> l.length() - l.indexOf(' ') - 1 <= 70);
            assertThat(uidls).doesNotHaveDuplicates();
            for (int n : new int[] {1, 16, 205}) {
                assertThat(c.command("RETR " + n)).startsWith("+OK");
                assertThat(c.body()).isEqualTo(delivered.get(n - 1).mime());
            }
            assertThat(c.command("TOP 16 2")).startsWith("+OK");
            assertThat(c.bodyText()).endsWith("Subject: m15\r\n\r\nline 1\r\nline 2\r\n");
            assertThat(c.command("DELE 1")).startsWith("+OK");
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off (1 messages deleted)");
        }
        assertThat(mailbox.recoverableItems()).extracting(GraphMessage::id).containsExactly(delivered.get(0).id());
        assertThat(mailbox.messages("inbox")).hasSize(204);
        assertThat(fake.requests()).filteredOn(r -> r.path().contains("/mailFolders/") && r.path().contains("/messages") && r.method().equals("GET"))
                .hasSizeGreaterThanOrEqualTo(3);
        try (Pop3Client c = login()) {
            assertThat(c.command("UIDL 1")).isEqualTo("+OK 1 " + uidls.get(1).substring("2 ".length()));
        }
    }

    @Test
    void moveToTrashPutsTheDeletedMessagesInDeletedItemsAndUidlSurvivesTheMove() throws Exception {
        GraphMessage first = deliver("a", 3);
        deliver("b", 3);
        policy("move:\\Trash");
        String uidl;
        try (Pop3Client c = login()) {
            uidl = c.command("UIDL 1");
            c.command("DELE 1");
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
        assertThat(mailbox.messages("deleteditems")).extracting(GraphMessage::id).containsExactly(first.id());
        policy("deleteditems", "keep");
        try (Pop3Client c = login()) {
            assertThat(c.command("UIDL 1")).isEqualTo(uidl);
        }
    }

    @Test
    void aDroppedDownloadClosesTheSessionAndAThrottledOneIsTemporary() throws Exception {
        deliver("big", 50_000);
        try (Pop3Client c = login()) {
            fake.dropNextDownloadAfter(10_000);
            assertThat(c.command("RETR 1")).startsWith("+OK");
            assertThatThrownBy(c::body).hasMessageContaining("connection closed inside a multi-line response");
        }
        try (Pop3Client c = login()) {
            fake.failNext("GET", "$value", 2, GraphFault.throttled(1));
            assertThat(c.command("RETR 1")).startsWith("-ERR [SYS/TEMP] ");
            assertThat(c.command("DELE 1")).startsWith("+OK");
            assertThat(c.command("RSET")).startsWith("+OK");
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
        assertThat(mailbox.messages("inbox")).hasSize(1);
        assertThat(mailbox.recoverableItems()).isEmpty();
    }

    @Test
    void aMessageDeletedByAnotherClientIsAPlainErr() throws Exception {
        GraphMessage gone = deliver("gone", 2);
        try (Pop3Client c = login()) {
            graph.delete(ACCOUNT, gone.id()).join();
            assertThat(c.command("RETR 1")).isEqualTo("-ERR Message 1 no longer exists (removed by another client)");
            assertThat(c.command("NOOP")).startsWith("+OK");
        }
    }
}
