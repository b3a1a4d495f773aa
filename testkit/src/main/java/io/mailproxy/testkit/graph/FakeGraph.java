package io.mailproxy.testkit.graph;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.mailproxy.testkit.TestCertificates;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * A fake Microsoft Graph mail API ({@code https://127.0.0.1:PORT/v1.0}) in the test's JVM: sendMail with MIME, MIME
 * drafts with recipient PATCHes and send, attachments (inline and by upload session), folder listings with paging,
 * {@code $value}, read flags, move and soft delete; bearer tokens from {@link FakeIdentityPlatform} (or registered
 * with {@link #acceptToken}) checked for Graph's audience, the permission each call needs and the app's mailbox scope;
 * Outlook's concurrency limit, and hooks for faults. What each behaviour models is cited where it is implemented
 * ({@code GraphDispatcher}, {@code MessagesApi}, {@code ListingApi}, {@code UploadSessions}).
 *
 * <p>The server certificate comes from {@link TestCertificates}; clients trust {@link #caPem()}.
 */
public final class FakeGraph implements AutoCloseable {
    /** Graph's limit on one REST request's body (MGDC api-reference/v1.0/api/message-post-attachments.md: "4MB"). */
    public static final long DEFAULT_MAX_REQUEST_BYTES = 4L * 1024 * 1024;
    /** Exchange Online's default tenant message size limit (MGDC attachment-createuploadsession.md: 35 MB). */
    public static final long DEFAULT_MAX_MESSAGE_BYTES = 35L * 1024 * 1024;
    /** Outlook's concurrent requests per app and mailbox (MGDC concepts/throttling-limits.md, Outlook service limits). */
    public static final int DEFAULT_MAX_CONCURRENT = 4;

    final GraphIds ids = new GraphIds();
    private final HttpsServer server;
    private final ExecutorService executor;
    private final TestCertificates certificates;
    final FakeIdentityPlatform idp;
    private final URI base;
    private volatile Clock clock = Clock.systemUTC();
    private final Map<String, GraphMailbox> mailboxes = new ConcurrentHashMap<>();
    final Map<String, Call.Principal> registeredTokens = new ConcurrentHashMap<>();
    final Map<String, Set<String>> applicationPermissions = new ConcurrentHashMap<>();
    final Map<String, Set<String>> accessPolicies = new ConcurrentHashMap<>();
    final Set<String> graphResources = ConcurrentHashMap.newKeySet();
    private final List<GraphRequest> requests = new CopyOnWriteArrayList<>();
    private final Deque<PendingFault> faults = new ArrayDeque<>();
    final AtomicLong dropNextDownloadAfter = new AtomicLong(-1);
    private volatile Hold hold;
    final UploadSessions uploads = new UploadSessions(this);
    private final GraphDispatcher dispatcher = new GraphDispatcher(this);

    volatile long maxRequestBytes = DEFAULT_MAX_REQUEST_BYTES;
    volatile long maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES;
    volatile int maxConcurrent = DEFAULT_MAX_CONCURRENT;
    volatile int throttleRetryAfter = 1;
    volatile long keepAttachmentBytesUpTo = 4L * 1024 * 1024;
    volatile long chunkMultiple;
    volatile boolean sentCopyKeepsId;
    volatile boolean deliverLocally = true;

    private record PendingFault(Predicate<GraphRequest> when, AtomicInteger remaining, GraphFault fault) { }

    private FakeGraph(TestCertificates certificates, FakeIdentityPlatform idp) throws IOException {
        this.certificates = certificates;
        this.idp = idp;
        graphResources.add("https://graph.microsoft.com");
        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 100);
        server.setHttpsConfigurator(new HttpsConfigurator(certificates.server().serverSslContext()));
        executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-graph");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/", dispatcher::dispatch);
        server.start();
        base = URI.create("https://127.0.0.1:" + server.getAddress().getPort());
    }

    /** Starts with {@link TestCertificates#shared()}, accepting only tokens registered with {@link #acceptToken}. */
    public static FakeGraph start() {
        return start(TestCertificates.shared(), null);
    }

    /** Starts accepting the access tokens {@code idp} issues (and any registered with {@link #acceptToken}). */
    public static FakeGraph start(FakeIdentityPlatform idp) {
        return start(TestCertificates.shared(), idp);
    }

    public static FakeGraph start(TestCertificates certificates, FakeIdentityPlatform idp) {
        try {
            return new FakeGraph(certificates, idp);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the fake Graph", e);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        uploads.close();
    }

    // ------------------------------------------------------------------------------------------- addresses

    /** {@code https://127.0.0.1:PORT/v1.0}: what {@code upstreams.X.graph} points to. */
    public URI baseUrl() {
        return URI.create(base + "/v1.0");
    }

    /** {@code https://127.0.0.1:PORT} */
    URI origin() {
        return base;
    }

    /** The CA certificate (PEM) that signed the fake's server certificate. */
    public Path caPem() {
        return certificates.caPem();
    }

    public TestCertificates certificates() {
        return certificates;
    }

    // ------------------------------------------------------------------------------------------- set-up

    /** The mailbox with this address, created empty on first use (requests for unknown mailboxes get 404). */
    public GraphMailbox mailbox(String address) {
        return mailboxes.computeIfAbsent(address.toLowerCase(Locale.ROOT), a -> new GraphMailbox(a, this));
    }

    Optional<GraphMailbox> existingMailbox(String address) {
        return Optional.ofNullable(mailboxes.get(address.toLowerCase(Locale.ROOT)));
    }

    /** An app-only bearer token the fake accepts without the identity platform, with these Graph permissions. */
    public FakeGraph acceptToken(String token, String appId, String... permissions) {
        registeredTokens.put(token, new Call.Principal(appId, Optional.empty(), Set.of(permissions)));
        return this;
    }

    /** A delegated bearer token for {@code user}, with these scopes ({@code Mail.Send}, {@code Mail.ReadWrite.Shared} ...). */
    public FakeGraph acceptDelegatedToken(String token, String appId, String user, String... scopes) {
        registeredTokens.put(token, new Call.Principal(appId, Optional.of(user.toLowerCase(Locale.ROOT)),
                Set.of(scopes)));
        return this;
    }

    /**
     * The application permissions (app roles) admin-consented for {@code clientId}: what an app-only token from the
     * identity platform ({@code .default} scope) carries. Without a call here such a token carries none.
     */
    public FakeGraph grantApplication(String clientId, String... permissions) {
        applicationPermissions.put(clientId, Set.of(permissions));
        return this;
    }

    /**
     * Scopes the app to these mailboxes, as an application access policy or RBAC for Applications does (MGDC
     * concepts/auth-limit-mailbox-access.md); other mailboxes answer 403 ErrorAccessDenied.
     */
    public FakeGraph restrictApplication(String clientId, String... mailboxes) {
        accessPolicies.put(clientId, Set.of(mailboxes).stream().map(m -> m.toLowerCase(Locale.ROOT))
                .collect(java.util.stream.Collectors.toUnmodifiableSet()));
        return this;
    }

    /** Another Graph host whose tokens are accepted (a national cloud's, e.g. {@code https://graph.microsoft.us}). */
    public FakeGraph acceptAudience(String resource) {
        graphResources.add(resource);
        return this;
    }

    public FakeGraph clock(Clock clock) {
        this.clock = clock;
        return this;
    }

    /** The most a request body may hold (default 4 MB); more gets 413. */
    public FakeGraph maxRequestBytes(long bytes) {
        this.maxRequestBytes = bytes;
        return this;
    }

    /** The tenant's maximum message size (default 35 MB); a bigger send gets 400 ErrorMessageSizeExceeded. */
    public FakeGraph maxMessageBytes(long bytes) {
        this.maxMessageBytes = bytes;
        return this;
    }

    /** Concurrent requests per app and mailbox before 429 (default 4). */
    public FakeGraph maxConcurrent(int n) {
        this.maxConcurrent = n;
        return this;
    }

    /** Retry-After (seconds) of the concurrency 429 (default 1, as observed: graph-evidence.md §4). */
    public FakeGraph throttleRetryAfter(int seconds) {
        this.throttleRetryAfter = seconds;
        return this;
    }

    /** Attachments up to this size keep their bytes (default 4 MiB); bigger ones only their size and SHA-256. */
    public FakeGraph keepAttachmentBytesUpTo(long bytes) {
        this.keepAttachmentBytesUpTo = bytes;
        return this;
    }

    /**
     * Requires every upload chunk but the last to be a multiple of {@code bytes} (e.g. 320 KiB). Off by default: the
     * 320 KiB rule is OneDrive's (driveitem-createuploadsession.md); Outlook's attachment docs do not state it.
     */
    public FakeGraph requireChunkMultiple(long bytes) {
        this.chunkMultiple = bytes;
        return this;
    }

    /**
     * Whether a sent draft's Sent Items copy keeps the draft's immutable id (default false: GET on the draft's id
     * then answers 404, as during the delay MGDC concepts/outlook-immutable-id.md allows: "may not succeed
     * immediately"; true models the state after it).
     */
    public FakeGraph sentCopyKeepsId(boolean keep) {
        this.sentCopyKeepsId = keep;
        return this;
    }

    /** Whether a sent message is also delivered to the Inbox of each recipient that is a mailbox of this fake (default true). */
    public FakeGraph deliverLocally(boolean deliver) {
        this.deliverLocally = deliver;
        return this;
    }

    // ------------------------------------------------------------------------------------------- faults

    /** The next {@code n} requests (upload PUTs included) get {@code fault} instead of their answer. */
    public FakeGraph failNext(int n, GraphFault fault) {
        return failNext(r -> true, n, fault);
    }

    /** The next {@code n} requests whose method is {@code method} and whose path contains {@code pathPart}. */
    public FakeGraph failNext(String method, String pathPart, int n, GraphFault fault) {
        return failNext(r -> r.method().equalsIgnoreCase(method) && r.path().contains(pathPart), n, fault);
    }

    /** The next {@code n} requests matching {@code when} (a request with status 0: not yet answered). */
    public synchronized FakeGraph failNext(Predicate<GraphRequest> when, int n, GraphFault fault) {
        faults.add(new PendingFault(when, new AtomicInteger(n), fault));
        return this;
    }

    synchronized Optional<GraphFault> takeFault(GraphRequest request) {
        for (var it = faults.iterator(); it.hasNext(); ) {
            PendingFault f = it.next();
            if (f.when().test(request)) {
                if (f.remaining().decrementAndGet() <= 0) {
                    it.remove();
                }
                return Optional.of(f.fault());
            }
        }
        return Optional.empty();
    }

    /** The next {@code $value} download sends {@code bytes} bytes of the message, then drops the connection. */
    public FakeGraph dropNextDownloadAfter(long bytes) {
        dropNextDownloadAfter.set(bytes);
        return this;
    }

    /**
     * Holds every request to a mailbox once it has taken its concurrency slot, until {@link Hold#release()}: lets a
     * test keep requests in flight to reach the concurrency limit.
     */
    public Hold hold() {
        Hold h = new Hold();
        hold = h;
        return h;
    }

    Hold currentHold() {
        return hold;
    }

    /** Requests held by {@link #hold()}. */
    public static final class Hold {
        final CompletableFuture<Void> released = new CompletableFuture<>();
        final AtomicInteger held = new AtomicInteger();

        /** How many requests are waiting now. */
        public int held() {
            return held.get();
        }

        /** Waits until {@code n} requests are held (false on timeout). */
        public boolean awaitHeld(int n, long timeout, TimeUnit unit) throws InterruptedException {
            long deadline = System.nanoTime() + unit.toNanos(timeout);
            while (held.get() < n) {
                if (System.nanoTime() > deadline) {
                    return false;
                }
                Thread.onSpinWait();
                TimeUnit.MILLISECONDS.sleep(5);
            }
            return true;
        }

        public void release() {
            released.complete(null);
        }
    }

    // ------------------------------------------------------------------------------------------- observations

    /** Every request answered so far, oldest first. */
    public List<GraphRequest> requests() {
        return List.copyOf(requests);
    }

    void logged(GraphRequest r) {
        requests.add(r);
    }

    Instant now() {
        return clock.instant();
    }

    @Override
    public String toString() {
        return "FakeGraph[" + baseUrl() + "]";
    }
}
