package io.mailproxy.smtp;

import static io.mailproxy.smtp.SmtpTestClient.expect;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.credentials.AccessToken;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.credentials.UpstreamCredentials;
import io.mailproxy.core.graph.GraphClient;
import io.mailproxy.core.graph.GraphSettings;
import io.mailproxy.core.spi.QueueAdmin.QueuedMessage;
import io.mailproxy.smtp.graph.GraphSplitter;
import io.mailproxy.smtp.graph.GraphSubmission;
import io.mailproxy.smtp.queue.DeliveryWorker;
import io.mailproxy.smtp.queue.QueueSettings;
import io.mailproxy.smtp.queue.Spool;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.mailproxy.testkit.graph.FakeGraph;
import io.mailproxy.testkit.graph.GraphFault;
import io.mailproxy.testkit.graph.GraphMailbox;
import io.mailproxy.testkit.graph.GraphRequest;
import io.mailproxy.testkit.graph.SentMessage;
import io.mailproxy.testkit.graph.StoredAttachment;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * SMTP through Microsoft Graph end to end: a real SMTP client socket, the SMTP session, {@code GraphSink} or the queue's
 * {@code GraphDelivery}, the real {@link GraphClient} over HTTPS, and the testkit's {@link FakeGraph} with an app-only
 * token issued by {@link FakeIdentityPlatform} (client credentials, {@code https://graph.microsoft.com/.default}).
 */
class GraphEndToEndTest {

    private static final String MAILBOX = "reports@contoso.com";
    private static final String APP = "app-1";
    private static final String SECRET = "app-secret";

    @TempDir
    Path stateDir;
    private FakeIdentityPlatform idp;
    private FakeGraph fake;
    private GraphClient client;
    private Fixture fx;
    private Spool spool;
    private DeliveryWorker worker;
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    private final HttpClient tokenHttp = HttpClient.newHttpClient();
    /** Every access token the proxy was given (the identity platform issued each). */
    private final List<String> tokens = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        idp = FakeIdentityPlatform.start().registerClient(APP, SECRET);
        fake = FakeGraph.start(idp).grantApplication(APP, "Mail.Send", "Mail.ReadWrite");
        fake.mailbox(MAILBOX);
        // the queue's retries within a test's time: 1 s back-off (reference.conf: 1 min)
        QueueSettings queue = new QueueSettings(1L << 30, Duration.ofMillis(2), 30, 10_000, 1, Duration.ofSeconds(1),
                Duration.ofSeconds(2), 0.0, Duration.ofDays(2), Duration.ofHours(24), Duration.ofSeconds(1),
                Optional.empty(), false, Duration.ofSeconds(30));
        fx = new Fixture(Fixture.listener(Optional.empty()), Fixture.settings(35 * 1024 * 1024, 4096), -1, null,
                (f, services) -> {
                    Path work = GraphSubmission.workDirectory(stateDir);
                    GraphSubmission graph = new GraphSubmission(services::graph, f.executor,
                            GraphSplitter.LARGE_MESSAGE, work, f.settings.headerLimit());
                    try {
                        spool = Spool.open(stateDir.resolve("spool"), 1L << 30, Spool.Durability.FSYNC, f.executor,
                                Clock.systemUTC(), Duration.ZERO);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    var accounts = (java.util.function.Function<String, Optional<AccountConfig>>)
                            name -> services.config().account(name);
                    worker = new DeliveryWorker(spool, queue,
                            DeliveryWorker.withGraph(DeliveryWorker.overPool(f.pools, accounts, spool, f.executor,
                                    Duration.ofSeconds(10)),
                                    a -> GraphSubmission.sendsWithGraph(services.config(), a), accounts, spool, graph),
                            accounts, Clock.systemUTC(), scheduler, f.executor, new SimpleMeterRegistry(),
                            new Random(3), "mx.test", 4096);
                    worker.start();
                    return new SmtpFrontend(services, f.settings, spool, worker, graph, work);
                });
        fx.core.upstream(new UpstreamConfig("graph", Optional.empty(), Map.of(), Optional.of(fake.baseUrl()),
                UpstreamConfig.Sending.GRAPH, Optional.of(fake.caPem()), Duration.ofSeconds(5), Duration.ofSeconds(5),
                Duration.ofSeconds(20)));
        AccountConfig account = new AccountConfig("graph-reports", MAILBOX, "graph", new AuthConfig.OAuth2(
                "office365", AuthConfig.Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(),
                Optional.empty()), MAILBOX, Map.of());
        fx.addClient("g-app", "secret", SmtpPolicy.DEFAULT, account);
        fx.addClient("g-queuer", "secret", new SmtpPolicy(SmtpPolicy.Sender.KEEP, SmtpPolicy.OriginalFrom.REPLY_TO, 0,
                true), account);
        client = GraphClient.create(fx.core::config, credentials(), new SimpleMeterRegistry(), Clock.systemUTC(),
                Scheduler.of(scheduler), u -> GraphSettings.DEFAULTS);
        fx.core.graph = client;
    }

    @AfterEach
    void stop() throws Exception {
        fx.close();
        client.close();
        fake.close();
        idp.close();
        scheduler.shutdownNow();
    }

    /** Tokens from the fake identity platform's token endpoint (client credentials for Graph's .default scope). */
    private UpstreamCredentials credentials() {
        return new UpstreamCredentials() {
            @Override
            public CompletableFuture<Login> loginFor(AccountConfig account, Protocol protocol) {
                return CompletableFuture.failedFuture(new IllegalStateException("no mail protocol in this test"));
            }

            @Override
            public CompletableFuture<AccessToken> graphToken(AccountConfig account, URI graphBase) {
                String form = "grant_type=client_credentials&client_id=" + APP + "&client_secret=" + SECRET
                        + "&scope=" + URLEncoder.encode("https://graph.microsoft.com/.default", StandardCharsets.UTF_8);
                HttpRequest r = HttpRequest.newBuilder(idp.tokenEndpoint("contoso"))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString(form)).build();
                return tokenHttp.sendAsync(r, HttpResponse.BodyHandlers.ofString()).thenApply(resp -> {
                    Matcher m = Pattern.compile("\"access_token\"\\s*:\\s*\"([^\"]+)\"").matcher(resp.body());
                    if (resp.statusCode() != 200 || !m.find()) {
                        throw new IllegalStateException("token endpoint answered " + resp.statusCode());
                    }
                    tokens.add(m.group(1));
                    return new AccessToken(m.group(1), Instant.now().plus(Duration.ofMinutes(50)));
                });
            }
        };
    }

    private GraphMailbox mailbox() {
        return fake.mailbox(MAILBOX);
    }

    /** MAIL, RCPT for each, DATA with {@code message} (dot-stuffed here); the reply to the final dot. */
    private static String send(SmtpTestClient c, String message, String... rcpts) throws Exception {
        expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
        for (String r : rcpts) {
            expect(c.command("RCPT TO:<" + r + ">"), "250");
        }
        expect(c.command("DATA"), "354");
        // in pass-through the reply to the final dot waits for Graph: a 10 MB message is split and uploaded over TLS
        // first, which took 17 s on a loaded 2-core machine (SmtpTestClient's 10 s read timeout failed the test)
        c.readTimeout(Duration.ofSeconds(60));
        return c.command(message.replace("\r\n.", "\r\n..") + ".");
    }

    private static final String PLAIN = "From: App <app@legacy.example>\r\nTo: Boss <boss@contoso.com>\r\n"
            + "Cc: ann@contoso.com\r\nSubject: report\r\nMessage-ID: <r1@legacy.example>\r\n\r\nline one\r\n"
            + ".a line that starts with a dot\r\n";

    @Test
    void aPlainMessageIsSentWithSendMailToTheEnvelopesRecipients() throws Exception {
        try (SmtpTestClient c = fx.client().login("g-app")) {
            expect(send(c, PLAIN, "boss@contoso.com", "ann@contoso.com"), "250 2.0.0");
        }
        assertThat(mailbox().sent()).hasSize(1);
        SentMessage sent = mailbox().sent().get(0);
        assertThat(sent.viaDraft()).isFalse();
        assertThat(sent.recipients()).containsExactly("boss@contoso.com", "ann@contoso.com");
        assertThat(sent.mimeText()).isEqualTo(PLAIN); // unstuffed, byte for byte
        assertThat(tokens).isNotEmpty();
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isPositive();
    }

    @Test
    void aBccRecipientGoesThroughADraftAndNoDraftIsLeft() throws Exception {
        try (SmtpTestClient c = fx.client().login("g-app")) {
            expect(send(c, PLAIN, "boss@contoso.com", "ann@contoso.com", "auditor@contoso.com"), "250 2.0.0");
        }
        assertThat(mailbox().sent()).hasSize(1);
        SentMessage sent = mailbox().sent().get(0);
        assertThat(sent.viaDraft()).isTrue();
        assertThat(sent.recipients()).containsExactlyInAnyOrder("boss@contoso.com", "ann@contoso.com",
                "auditor@contoso.com");
        assertThat(sent.bcc()).containsExactly("auditor@contoso.com");
        assertThat(fake.requests()).anyMatch(r -> r.method().equals("PATCH"));
        assertThat(mailbox().drafts()).isEmpty();
    }

    @Test
    void aTenMegabyteAttachmentGoesThroughAnUploadSession() throws Exception {
        byte[] data = new byte[10 * 1024 * 1024];
        new Random(16).nextBytes(data);
        String b64 = Base64.getMimeEncoder(76, "\r\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(data);
        String message = "From: app@legacy.example\r\nTo: boss@contoso.com\r\nSubject: the data\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: multipart/mixed; boundary=\"=_b1\"\r\n\r\n"
                + "--=_b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nthe data is attached\r\n"
                + "--=_b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;"
                + " filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n--=_b1--\r\n";
        try (SmtpTestClient c = fx.client().login("g-app")) {
            expect(send(c, message, "boss@contoso.com"), "250 2.0.0");
        }
        assertThat(mailbox().sent()).hasSize(1);
        SentMessage sent = mailbox().sent().get(0);
        assertThat(sent.viaDraft()).isTrue();
        assertThat(sent.recipients()).containsExactly("boss@contoso.com");
        assertThat(sent.mimeText()).contains("the data is attached").doesNotContain(b64.substring(0, 76));
        assertThat(sent.attachments()).hasSize(1);
        StoredAttachment a = sent.attachments().get(0);
        assertThat(a.name()).isEqualTo("data.bin");
        assertThat(a.uploadSession()).isTrue();
        assertThat(a.size()).isEqualTo(data.length);
        assertThat(a.sha256Hex()).isEqualTo(HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(data)));
        assertThat(mailbox().drafts()).isEmpty();
    }

    private void queueOne(String... rcpts) throws Exception {
        try (SmtpTestClient c = fx.client().login("g-queuer")) {
            expect(send(c, PLAIN, rcpts), "250 2.0.0"); // at once: the spool has it
        }
    }

    private List<GraphRequest> sendMails() {
        return fake.requests().stream().filter(r -> r.method().equals("POST") && r.path().endsWith("/sendMail"))
                .toList();
    }

    @Test
    void aQueuedMessageIsSpooledAnsweredAtOnceThenDeliveredThroughGraph() throws Exception {
        queueOne("boss@contoso.com", "ann@contoso.com");
        await().atMost(Duration.ofSeconds(15)).until(() -> mailbox().sent().size() == 1);
        assertThat(mailbox().sent().get(0).recipients()).containsExactly("boss@contoso.com", "ann@contoso.com");
        // the worker forgets the message once the 202 is back over TLS, after the fake recorded the send
        await().atMost(Duration.ofSeconds(15)).until(() -> worker.list().isEmpty());
    }

    @Test
    void a429WithRetryAfterHoldsTheAccountThatLongThenDelivers() throws Exception {
        AtomicReference<Instant> throttledAt = new AtomicReference<>();
        fake.failNext(r -> {
            boolean send = r.method().equals("POST") && r.path().endsWith("/sendMail");
            if (send) {
                throttledAt.set(Instant.now());
            }
            return send;
        }, 1, GraphFault.throttled(3));
        queueOne("boss@contoso.com", "ann@contoso.com");
        // the first attempt (token, TLS handshake, 429) can take seconds on a loaded machine; the hold then stays 3 s
        await().atMost(Duration.ofSeconds(15)).until(() -> worker.status().heldAccounts().values().stream()
                .anyMatch(why -> why.contains("throttled by Microsoft Graph")));
        await().atMost(Duration.ofSeconds(15)).until(() -> mailbox().sent().size() == 1);
        // the fake logs a request (with its status) after it has sent the message and just before it answers: the
        // 202 is in requests() once the worker has it, that is once the queue is empty
        await().atMost(Duration.ofSeconds(15)).until(() -> worker.list().isEmpty());
        SentMessage sent = mailbox().sent().get(0);
        assertThat(Duration.between(throttledAt.get(), sent.at())).isGreaterThanOrEqualTo(Duration.ofMillis(2900));
        assertThat(sendMails()).extracting(GraphRequest::status).containsExactly(429, 202);
        assertThat(sent.recipients()).containsExactly("boss@contoso.com", "ann@contoso.com");
    }

    @Test
    void a403InPassThroughIsOneWarnLineWithTheAdviceAndGraphsRequestIds() throws Exception {
        fake.restrictApplication(APP, "someone-else@contoso.com");
        Logger logger = (Logger) LoggerFactory.getLogger("io.mailproxy");
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        logger.addAppender(log);
        try (SmtpTestClient c = fx.client().login("g-app")) {
            expect(send(c, PLAIN, "boss@contoso.com"), "454 4.7.0");
        } finally {
            logger.detachAppender(log);
        }
        List<String> warnings = List.copyOf(log.list).stream().filter(e -> e.getLevel() == Level.WARN)
                .map(ILoggingEvent::getFormattedMessage).toList();
        assertThat(warnings).hasSize(1);
        assertThat(warnings.get(0)).contains("Microsoft Graph refused account graph-reports access")
                .contains("403 ErrorAccessDenied").contains("the app needs the Mail.ReadWrite permission").contains("client-request-id ")
                .contains(", request-id ");
        assertThat(mailbox().sent()).isEmpty();
    }

    @Test
    void a403AccessDeniedDefersAndNeverBounces() throws Exception {
        // the app's application access policy leaves this mailbox out (MGDC auth-limit-mailbox-access.md): 403
        fake.restrictApplication(APP, "someone-else@contoso.com");
        queueOne("boss@contoso.com", "ann@contoso.com");
        await().atMost(Duration.ofSeconds(10)).until(() -> worker.list().stream().map(QueuedMessage::lastReply)
                .anyMatch(r -> r.startsWith("454 4.7.0")));
        await().atMost(Duration.ofSeconds(10)).until(() -> sendMails().size() >= 2); // tried again: deferred
        QueuedMessage waiting = worker.list().get(0);
        assertThat(waiting.pending()).containsExactly("boss@contoso.com", "ann@contoso.com"); // nobody bounced
        // the hold is re-made after each refused attempt and lifts after the (short, in this test) back-off: wait for
        // one, rather than expect the moment above to fall inside one
        await().atMost(Duration.ofSeconds(10)).until(() -> worker.status().heldAccounts().values().stream()
                .anyMatch(w -> w.contains("configuration fault")));
        assertThat(mailbox().sent()).isEmpty();
        fake.restrictApplication(APP, MAILBOX); // the administrator fixes the policy
        await().atMost(Duration.ofSeconds(15)).until(() -> mailbox().sent().size() == 1);
        // sent() has the message before requests() has its 202 (logged just before the answer): wait for the worker
        // to have the answer (seen on a loaded machine: statuses [403, 403] right after sent() had the message)
        await().atMost(Duration.ofSeconds(15)).until(() -> worker.list().isEmpty());
        assertThat(mailbox().sent().get(0).recipients()).containsExactly("boss@contoso.com", "ann@contoso.com");
        assertThat(sendMails()).extracting(GraphRequest::status).contains(403).endsWith(202);
    }

    @Test
    void aLost202IsNotSentTwice() throws Exception {
        // Graph sends the draft, then the proxy's connection drops before the 202 reaches it (the 202 is lost)
        fake.failNext(r -> r.method().equals("POST") && r.path().endsWith("/send"), 1,
                GraphFault.dropAfterProcessing());
        queueOne("boss@contoso.com", "ann@contoso.com", "auditor@contoso.com"); // a Bcc: a draft
        await().atMost(Duration.ofSeconds(10)).until(() -> fake.requests().stream()
                .anyMatch(r -> r.path().endsWith("/send") && r.status() == 0)); // processed, answer dropped
        await().atMost(Duration.ofSeconds(15)).until(() -> worker.list().isEmpty());
        assertThat(mailbox().sent()).hasSize(1);
        assertThat(mailbox().sent().get(0).recipients()).containsExactlyInAnyOrder("boss@contoso.com",
                "ann@contoso.com", "auditor@contoso.com");
        assertThat(mailbox().drafts()).isEmpty();
        // the retry asked Graph about the recorded draft instead of making a new one
        assertThat(fake.requests().stream().filter(r -> r.method().equals("POST") && r.path().endsWith("/messages")))
                .hasSize(1);
        assertThat(fake.requests()).anyMatch(r -> r.method().equals("GET") && r.status() == 404);
    }
}
