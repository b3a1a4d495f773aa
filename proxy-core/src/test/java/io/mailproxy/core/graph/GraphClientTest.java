package io.mailproxy.core.graph;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.mailproxy.testkit.graph.GraphFault;
import io.mailproxy.testkit.graph.GraphRequest;
import io.mailproxy.testkit.graph.SentMessage;
import io.mailproxy.testkit.graph.StoredAttachment;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** GraphClient against the testkit's fake Graph (HTTPS, tokens from the fake identity platform). */
class GraphClientTest {

    @TempDir
    Path dir;

    private GraphFixture f;

    @BeforeEach
    void setUp() {
        f = new GraphFixture(dir);
    }

    @AfterEach
    void tearDown() {
        f.close();
    }

    private static byte[] mime(String to, String subject) {
        return ("From: reports@contoso.com\r\nTo: " + to + "\r\nSubject: " + subject
                + "\r\nMessage-ID: <" + subject.hashCode() + "@contoso.com>\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=us-ascii\r\n\r\nHello " + subject + "\r\n")
                .getBytes(StandardCharsets.US_ASCII);
    }

    private static <T> T get(CompletableFuture<T> future) throws Exception {
        return future.get(30, TimeUnit.SECONDS);
    }

    private static GraphException failure(CompletableFuture<?> future) {
        Throwable t = catchThrowable(() -> future.get(30, TimeUnit.SECONDS));
        assertThat(t).isInstanceOf(ExecutionException.class);
        assertThat(t.getCause()).isInstanceOf(GraphException.class);
        return (GraphException) t.getCause();
    }

    @Test
    void sendMimePostsTheMessageBase64AndCompletesOn202() throws Exception {
        byte[] message = mime("alice@fabrikam.com", "one");
        get(f.client.sendMime(f.account, GraphFixture.bytes(message)));
        List<SentMessage> sent = f.graph.mailbox(GraphFixture.MAILBOX).sent();
        assertThat(sent).hasSize(1);
        assertThat(sent.get(0).mime()).isEqualTo(message);
        assertThat(sent.get(0).to()).containsExactly("alice@fabrikam.com");
        assertThat(f.requests("send-mail", "ok")).isEqualTo(1);
    }

    @Test
    void aDraftGetsItsRecipientsReplacedAndIsSent() throws Exception {
        String id = get(f.client.createMimeDraft(f.account, GraphFixture.bytes(mime("alice@fabrikam.com", "d"))));
        get(f.client.setRecipients(f.account, id, new Recipients(List.of("alice@fabrikam.com"), List.of(),
                List.of("hidden@fabrikam.com"))));
        assertThat(get(f.client.message(f.account, id))).hasValueSatisfying(m -> assertThat(m.draft()).isTrue());
        get(f.client.sendDraft(f.account, id));
        SentMessage sent = f.graph.mailbox(GraphFixture.MAILBOX).sent().get(0);
        assertThat(sent.viaDraft()).isTrue();
        assertThat(sent.recipients()).containsExactly("alice@fabrikam.com", "hidden@fabrikam.com");
        assertThat(get(f.client.message(f.account, id))).as("a sent draft is gone from Drafts").isEmpty();
    }

    @Test
    void aTenMegabyteAttachmentGoesUpInStreamedChunksWithoutTheAuthorizationHeader() throws Exception {
        long size = 10L * 1024 * 1024;
        MimeSource content = GraphFixture.generated(size, 7);
        String id = get(f.client.createMimeDraft(f.account, GraphFixture.bytes(mime("alice@fabrikam.com", "big"))));
        get(f.client.addAttachment(f.account, id, new AttachmentUpload("big.bin", "application/octet-stream", false,
                Optional.empty(), content)));
        List<StoredAttachment> attachments = f.graph.mailbox(GraphFixture.MAILBOX).message(id).orElseThrow()
                .attachments();
        assertThat(attachments).hasSize(1);
        assertThat(attachments.get(0).size()).isEqualTo(size);
        assertThat(attachments.get(0).uploadSession()).isTrue();
        assertThat(attachments.get(0).sha256Hex()).isEqualTo(sha256(content));
        List<GraphRequest> puts = f.graph.requests().stream().filter(r -> r.method().equals("PUT")).toList();
        int chunk = GraphSettings.DEFAULTS.uploadChunkBytes();
        assertThat(puts).hasSize((int) ((size + chunk - 1) / chunk));
        assertThat(puts).allSatisfy(r -> {
            assertThat(r.authorization()).isFalse();
            assertThat(r.requestBytes()).isLessThanOrEqualTo(chunk);
        });
    }

    @Test
    void aSmallAttachmentGoesInlineAsContentBytes() throws Exception {
        byte[] data = "attachment body".getBytes(StandardCharsets.US_ASCII);
        String id = get(f.client.createMimeDraft(f.account, GraphFixture.bytes(mime("alice@fabrikam.com", "s"))));
        get(f.client.addAttachment(f.account, id, new AttachmentUpload("a.txt", "text/plain", true,
                Optional.of("cid1"), GraphFixture.bytes(data))));
        StoredAttachment a = f.graph.mailbox(GraphFixture.MAILBOX).message(id).orElseThrow().attachments().get(0);
        assertThat(a.uploadSession()).isFalse();
        assertThat(a.bytes()).hasValueSatisfying(b -> assertThat(b).isEqualTo(data));
        assertThat(a.contentId()).contains("cid1");
        assertThat(a.inline()).isTrue();
    }

    @Test
    void listingPagesThroughTheFolderOldestFirstAndFiltersUnread() throws Exception {
        var box = f.graph.mailbox(GraphFixture.MAILBOX);
        List<String> unread = new ArrayList<>();
        for (int i = 0; i < 230; i++) {
            var m = box.deliver(mime("reports@contoso.com", "m" + i), i % 3 == 0, "Projects/2026");
            if (i % 3 != 0) {
                unread.add(m.id());
            }
            f.clock.advance(Duration.ofSeconds(1));
        }
        List<MessageInfo> all = listAll(false);
        assertThat(all).hasSize(230);
        assertThat(all).isSortedAccordingTo(java.util.Comparator.comparing(MessageInfo::received));
        assertThat(all).allSatisfy(m -> assertThat(m.size()).isPositive());
        assertThat(listAll(true)).extracting(MessageInfo::id).containsExactlyElementsOf(unread);
        assertThat(f.requests("list", "ok")).isGreaterThanOrEqualTo(3 + 2);
    }

    private List<MessageInfo> listAll(boolean unreadOnly) throws Exception {
        List<MessageInfo> out = new ArrayList<>();
        Optional<String> next = Optional.empty();
        int pages = 0;
        do {
            MessagePage page = get(f.client.list(f.account, "Projects/2026", unreadOnly, next));
            out.addAll(page.messages());
            next = page.next();
            assertThat(++pages).isLessThan(10);
        } while (next.isPresent());
        return out;
    }

    @Test
    void downloadStreamsTheMimeAndMoveAndMarkReadWork() throws Exception {
        byte[] big = new byte[1_500_000];
        java.util.Arrays.fill(big, (byte) 'x');
        byte[] message = (new String(mime("reports@contoso.com", "dl"), StandardCharsets.US_ASCII)
                + new String(big, StandardCharsets.US_ASCII) + "\r\n").getBytes(StandardCharsets.US_ASCII);
        var box = f.graph.mailbox(GraphFixture.MAILBOX);
        String id = box.deliver(message).id();
        assertThat(read(get(f.client.download(f.account, id)))).isEqualTo(message);
        get(f.client.markRead(f.account, id));
        assertThat(box.message(id).orElseThrow().read()).isTrue();
        get(f.client.move(f.account, id, "deleteditems"));
        assertThat(box.messages("deleteditems")).extracting(m -> m.id()).contains(id);
        assertThat(f.client.http().gate(f.account).inFlight()).as("the download's permit came back").isZero();
    }

    @Test
    void aConnectionDroppedMidDownloadFailsThePublisher() throws Exception {
        byte[] big = new byte[2_000_000];
        java.util.Arrays.fill(big, (byte) 'y');
        String id = f.graph.mailbox(GraphFixture.MAILBOX).deliver(big).id();
        f.graph.dropNextDownloadAfter(100_000);
        Flow.Publisher<List<ByteBuffer>> body = get(f.client.download(f.account, id));
        Throwable t = catchThrowable(() -> read(body));
        assertThat(t).isNotNull();
        assertThat(f.client.http().gate(f.account).inFlight()).isZero();
    }

    @Test
    void aDownloadNobodyReadsGivesTheMailboxSlotBackAfterTheReplyTimeout() throws Exception {
        // a POP3 session may end between the download's headers and its subscription: the slot must not stay taken
        String id = f.graph.mailbox(GraphFixture.MAILBOX).deliver(mime("a@b.com", "unread")).id();
        Flow.Publisher<List<ByteBuffer>> body = get(f.client.download(f.account, id));
        assertThat(f.client.http().gate(f.account).inFlight()).isEqualTo(1);
        f.timers.advance(Duration.ofSeconds(19));
        assertThat(f.client.http().gate(f.account).inFlight()).as("not before reply-timeout").isEqualTo(1);
        f.timers.advance(Duration.ofSeconds(2));
        assertThat(f.client.http().gate(f.account).inFlight()).as("the slot came back").isZero();
        Throwable late = catchThrowable(() -> read(body));
        assertThat(GraphHttp.unwrap(late).kind()).isEqualTo(Kind.UNAVAILABLE);
    }

    @Test
    void a401GetsOneFreshTokenAndOneRetry() throws Exception {
        f.graph.failNext("POST", "sendMail", 1, GraphFault.of(401, "InvalidAuthenticationToken",
                "Access token has expired or is not yet valid."));
        get(f.client.sendMime(f.account, GraphFixture.bytes(mime("alice@fabrikam.com", "401"))));
        assertThat(f.graph.mailbox(GraphFixture.MAILBOX).sent()).hasSize(1);
        assertThat(f.idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isEqualTo(2);
    }

    @Test
    void a401TwiceIsNotAuthorised() {
        f.graph.failNext("POST", "sendMail", 2, GraphFault.of(401, "InvalidAuthenticationToken", "expired"));
        GraphException e = failure(f.client.sendMime(f.account, GraphFixture.bytes(mime("a@b.com", "x"))));
        assertThat(e.kind()).isEqualTo(Kind.NOT_AUTHORISED);
        assertThat(e.status()).isEqualTo(401);
    }

    @Test
    void a403WithoutMailSendNamesThePermissionInTheLogAndNeverTheToken() throws Exception {
        f.graph.grantApplication("app", "Mail.ReadWrite");
        Logger logger = (Logger) LoggerFactory.getLogger("io.mailproxy");
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        logger.addAppender(log);
        Level before = logger.getLevel();
        logger.setLevel(Level.DEBUG);
        try {
            GraphException e = failure(f.client.sendMime(f.account, GraphFixture.bytes(mime("a@b.com", "403"))));
            assertThat(e.kind()).isEqualTo(Kind.NOT_AUTHORISED);
            assertThat(e.code()).isEqualTo("ErrorAccessDenied");
            assertThat(e.getMessage()).contains("Mail.Send");
        } finally {
            logger.detachAppender(log);
            logger.setLevel(before);
        }
        String text = log.list.stream().map(ILoggingEvent::getFormattedMessage)
                .collect(java.util.stream.Collectors.joining("\n"));
        assertThat(text).contains("Mail.Send permission").contains("client-request-id");
        String token = get(f.credentials.graphToken(f.account, f.graph.baseUrl())).value();
        assertThat(text).doesNotContain(token).doesNotContain(GraphFixture.SECRET);
    }

    @Test
    void a429HoldsTheMailboxUntilRetryAfterAndIsNotRetriedForSendMail() throws Exception {
        f.graph.failNext("POST", "sendMail", 1, GraphFault.throttled(5));
        GraphException e = failure(f.client.sendMime(f.account, GraphFixture.bytes(mime("a@b.com", "t1"))));
        assertThat(e.kind()).isEqualTo(Kind.THROTTLED);
        assertThat(e.retryAfter()).contains(Duration.ofSeconds(5));
        assertThat(f.graph.mailbox(GraphFixture.MAILBOX).sent()).isEmpty();
        int before = f.graph.requests().size();
        CompletableFuture<Void> next = f.client.sendMime(f.account, GraphFixture.bytes(mime("a@b.com", "t2")));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> f.client.http().gate(f.account).waiting() == 1);
        assertThat(next).isNotDone();
        assertThat(f.graph.requests()).as("nothing sent while Retry-After holds").hasSize(before);
        f.timers.advance(Duration.ofSeconds(5));
        get(next);
        assertThat(f.graph.mailbox(GraphFixture.MAILBOX).sent()).hasSize(1);
    }

    @Test
    void aThrottledGetIsRetriedOnceAfterItsRetryAfter() throws Exception {
        f.graph.mailbox(GraphFixture.MAILBOX).deliver(mime("reports@contoso.com", "g"));
        f.graph.failNext("GET", "/messages", 1, GraphFault.unavailable(2));
        CompletableFuture<MessagePage> page = f.client.list(f.account, "inbox", false, Optional.empty());
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10))
                .until(() -> f.client.http().gate(f.account).waiting() == 1);
        assertThat(page).isNotDone();
        f.timers.advance(Duration.ofSeconds(2));
        assertThat(get(page).messages()).hasSize(1);
    }

    @Test
    void fiveConcurrentCallsForOneMailboxNeverExceedFourInFlight() throws Exception {
        var hold = f.graph.hold();
        List<CompletableFuture<Void>> calls = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            calls.add(f.client.sendMime(f.account, GraphFixture.bytes(mime("a@b.com", "c" + i))));
        }
        assertThat(hold.awaitHeld(4, 20, TimeUnit.SECONDS)).isTrue();
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20))
                .until(() -> f.client.http().gate(f.account).waiting() == 1);
        assertThat(hold.held()).isEqualTo(4);
        hold.release();
        for (CompletableFuture<Void> c : calls) {
            get(c);
        }
        assertThat(f.graph.mailbox(GraphFixture.MAILBOX).concurrencyHighWater()).isLessThanOrEqualTo(4);
        assertThat(f.graph.mailbox(GraphFixture.MAILBOX).sent()).hasSize(5);
        assertThat(f.graph.requests()).noneMatch(r -> r.status() == 429);
    }

    @Test
    void theTokenEndpointDownIsUnavailable() {
        f.idp.failWith(503);
        GraphException e = failure(f.client.sendMime(f.account, GraphFixture.bytes(mime("a@b.com", "down"))));
        assertThat(e.kind()).isEqualTo(Kind.UNAVAILABLE);
        assertThat(f.graph.requests()).isEmpty();
    }

    @Test
    void theProvidersConfiguredGraphScopesAreTheOnesRequested() throws Exception {
        // oauth2.X.scopes.graph-app overridden: the token request asks for the override, not a scope made from the
        // Graph host (an app registered in another cloud, or a resource URI the administrator chose)
        String override = "api://contoso-graph-proxy/.default";
        var credentials = new io.mailproxy.core.credentials.DefaultUpstreamCredentials(
                java.util.Map.of("contoso", f.provider(List.of(override))), f.store, f.tokens, f.tokenExecutor,
                f.clock);
        credentials.graphToken(f.account, f.graph.baseUrl()).get(30, TimeUnit.SECONDS);
        assertThat(f.idp.tokenRequests()).last().satisfies(r -> assertThat(r.form().get("scope"))
                .isEqualTo(override));
    }

    @Test
    void aPasswordAccountCannotUseGraph() {
        GraphException e = failure(f.client.sendMime(f.passwordAccount, GraphFixture.bytes(mime("a@b.com", "pw"))));
        assertThat(e.kind()).isEqualTo(Kind.NOT_AUTHORISED);
        assertThat(e.getMessage()).contains("password").contains("OAuth");
    }

    @Test
    void aMissingMessageIsEmptyAndItsDeleteSucceeds() throws Exception {
        assertThat(get(f.client.message(f.account, "AAMkAGone="))).isEmpty();
        get(f.client.delete(f.account, "AAMkAGone="));
    }

    @Test
    void aMailboxWithoutRestIsNotAuthorisedNotNotFound() {
        f.graph.mailbox(GraphFixture.MAILBOX).disableRest();
        GraphException e = failure(f.client.message(f.account, "AAMkA="));
        assertThat(e.kind()).isEqualTo(Kind.NOT_AUTHORISED);
        assertThat(e.code()).isEqualTo("MailboxNotEnabledForRESTAPI");
    }

    private static byte[] read(Flow.Publisher<List<ByteBuffer>> body) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CompletableFuture<byte[]> done = new CompletableFuture<>();
        body.subscribe(new Flow.Subscriber<>() {
            private Flow.Subscription s;

            @Override
            public void onSubscribe(Flow.Subscription subscription) {
                s = subscription;
                s.request(1);
            }

            @Override
            public void onNext(List<ByteBuffer> item) {
                for (ByteBuffer b : item) {
                    byte[] a = new byte[b.remaining()];
                    b.get(a);
                    out.write(a, 0, a.length);
                }
                s.request(1);
            }

            @Override
            public void onError(Throwable throwable) {
                done.completeExceptionally(throwable);
            }

            @Override
            public void onComplete() {
                done.complete(out.toByteArray());
            }
        });
        return done.get(30, TimeUnit.SECONDS);
    }

    private static String sha256(MimeSource source) throws Exception {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        try (var in = source.open()) {
            byte[] buf = new byte[65536];
            int n;
            while ((n = in.read(buf)) > 0) {
                d.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }
}
