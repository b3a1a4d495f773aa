package io.mailproxy.core.graph;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.credentials.AccessToken;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.credentials.TokenException;
import io.mailproxy.core.credentials.UpstreamCredentials;
import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.core.tls.ClientTls;
import io.mailproxy.core.upstream.UpstreamException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Graph HTTP exchange with everything around it: the account's token for Graph's audience, the mailbox's
 * {@link MailboxGate}, the headers every request carries, one retry after a 401 with a fresh token, one retry of a GET
 * after a 429/503 within a small budget, error answers as {@link GraphException}, a log line per failure, and the
 * {@code mailproxy_graph_requests_total{operation,outcome}} counter and timer. The JDK's HttpClient (HTTP/2 with
 * fallback to 1.1) runs on the client's own executor, with the upstream's trust ({@link ClientTls#trustManagers}).
 */
final class GraphHttp {

    private static final Logger LOG = LoggerFactory.getLogger(GraphHttp.class);
    static final String METRIC = "mailproxy.graph.requests";
    /** A throttled GET is sent again once if Graph asks to wait at most this long (none given: 1 s). */
    static final Duration RETRY_BUDGET = Duration.ofSeconds(10);
    /** Time allowed per byte of request body on top of reply-timeout: 1 s per 128 KiB (a 4 MB request: 31 s). */
    private static final long BYTES_PER_SECOND = 128 * 1024;

    /** What a response carries: the body streamed (a $value download) or read into bounded text. */
    record Reply(int status, Flow.Publisher<List<ByteBuffer>> stream, String text, HttpResponse<?> response) { }

    /** One request to make; {@code body} is called for each attempt (a retry reopens the source). */
    record Call(GraphOperation op, AccountConfig account, String method, URI uri, String contentType,
                Supplier<HttpRequest.BodyPublisher> body, long bodyLength, boolean authorised, boolean stream,
                Map<String, String> headers) {
        static Call of(GraphOperation op, AccountConfig account, String method, URI uri) {
            return new Call(op, account, method, uri, null, null, 0, true, false, Map.of());
        }

        Call body(String type, Supplier<HttpRequest.BodyPublisher> publisher, long length) {
            return new Call(op, account, method, uri, type, publisher, length, authorised, stream, headers);
        }

        Call withHeaders(Map<String, String> extra) {
            return new Call(op, account, method, uri, contentType, body, bodyLength, authorised, stream, extra);
        }

        /** For a pre-authenticated upload URL: no Authorization header (attachment-createuploadsession.md). */
        Call unauthorised() {
            return new Call(op, account, method, uri, contentType, body, bodyLength, false, stream, headers);
        }

        Call streamed() {
            return new Call(op, account, method, uri, contentType, body, bodyLength, authorised, true, headers);
        }
    }

    private final Supplier<io.mailproxy.core.config.MailproxyConfig> config;
    private final UpstreamCredentials credentials;
    private final MeterRegistry meters;
    private final Clock clock;
    private final Scheduler scheduler;
    private final ExecutorService executor;
    private final Function<UpstreamConfig, GraphSettings> settings;
    private final Map<String, MailboxGate> gates = new ConcurrentHashMap<>();
    private final Map<TrustKey, HttpClient> clients = new ConcurrentHashMap<>();

    private record TrustKey(String upstream, Optional<Path> caFile, long modified, Duration connectTimeout) { }

    GraphHttp(Supplier<io.mailproxy.core.config.MailproxyConfig> config, UpstreamCredentials credentials,
              MeterRegistry meters, Clock clock, Scheduler scheduler, ExecutorService executor,
              Function<UpstreamConfig, GraphSettings> settings) {
        this.config = config;
        this.credentials = credentials;
        this.meters = meters;
        this.clock = clock;
        this.scheduler = scheduler;
        this.executor = executor;
        this.settings = settings;
    }

    ExecutorService executor() {
        return executor;
    }

    /** The account's upstream, which must have a Graph URL. */
    UpstreamConfig upstream(AccountConfig account) {
        UpstreamConfig u = config.get().upstreams().get(account.upstream());
        if (u == null || u.graph().isEmpty()) {
            throw new GraphException(Kind.NOT_AUTHORISED, 0, "", "account " + account.name() + ": upstream "
                    + account.upstream() + " has no Microsoft Graph URL (graph = \"https://graph.microsoft.com/v1.0\""
                    + " or a preset with a Graph host)", Optional.empty(), null);
        }
        return u;
    }

    GraphSettings settings(AccountConfig account) {
        return settings.apply(upstream(account));
    }

    /** The mailbox's gate (tests look at it). */
    MailboxGate gate(AccountConfig account) {
        String key = account.upstream() + "/" + account.mailbox().toLowerCase(Locale.ROOT);
        return gates.computeIfAbsent(key, k -> new MailboxGate(account.mailbox(), clock, scheduler, executor));
    }

    /**
     * Sends the call; completes with the reply when its status is one of {@code ok}, else fails with
     * {@link GraphException}. A streamed reply keeps the mailbox's permit until its body ends.
     */
    CompletableFuture<Reply> send(Call call, int... ok) {
        CompletableFuture<Reply> result;
        try {
            result = attempt(call, ok, false, false);
        } catch (GraphException e) {
            result = CompletableFuture.failedFuture(e);
        }
        return result;
    }

    private CompletableFuture<Reply> attempt(Call call, int[] ok, boolean refreshed, boolean retried) {
        UpstreamConfig upstream = upstream(call.account());
        if (call.authorised() && !(call.account().auth() instanceof io.mailproxy.core.config.AuthConfig.OAuth2)) {
            throw new GraphException(Kind.NOT_AUTHORISED, 0, "", "account " + call.account().name() + " logs in with"
                    + " a password; Microsoft Graph takes only OAuth 2.0 tokens (auth.type = oauth2)",
                    Optional.empty(), null);
        }
        GraphSettings limits = settings.apply(upstream);
        URI graph = upstream.graph().orElseThrow();
        CompletableFuture<Optional<AccessToken>> token = call.authorised()
                ? credentials.graphToken(call.account(), graph).thenApply(Optional::of)
                .exceptionally(e -> {
                    throw new CompletionException(tokenFailure(call, e));
                })
                : CompletableFuture.completedFuture(Optional.empty());
        MailboxGate gate = gate(call.account());
        return token.thenCompose(t -> gate.acquire(limits.concurrency(), limits.queue()).thenCompose(release ->
                exchange(call, upstream, t, ok, release)))
                .handle((reply, failure) -> {
                    if (failure == null) {
                        return CompletableFuture.completedFuture(reply);
                    }
                    GraphException e = unwrap(failure);
                    if (e.status() == 401 && call.authorised() && !refreshed) {
                        // Graph refused the token: it may have been revoked or rotated before its expiry; one fresh
                        // token, one more try (DESIGN: access tokens are opaque, their real life is Graph's to say)
                        LOG.info("Graph {} for {}: 401 {}; fetching a new token and trying once more",
                                call.op().metricName, call.account().mailbox(), e.code());
                        credentials.invalidateGraph(call.account(), graph);
                        return attempt(call, ok, true, retried);
                    }
                    if (e.kind() == Kind.THROTTLED && call.op().idempotent && !retried && e.status() != 0
                            && e.retryAfter().orElse(Duration.ofSeconds(1)).compareTo(RETRY_BUDGET) <= 0) {
                        if (e.retryAfter().isEmpty()) {
                            gate.hold(Duration.ofSeconds(1));
                        }
                        return attempt(call, ok, refreshed, true);
                    }
                    return CompletableFuture.<Reply>failedFuture(e);
                })
                .thenCompose(f -> f);
    }

    private CompletableFuture<Reply> exchange(Call call, UpstreamConfig upstream, Optional<AccessToken> token,
                                              int[] ok, Runnable release) {
        String requestId = UUID.randomUUID().toString();
        Timer.Sample sample = Timer.start(meters);
        HttpResponse.BodyHandler<Reply> handler = info -> {
            boolean good = contains(ok, info.statusCode());
            if (good && call.stream()) {
                return HttpResponse.BodySubscribers.mapping(HttpResponse.BodySubscribers.ofPublisher(),
                        p -> new Reply(info.statusCode(), p, "", null));
            }
            return HttpResponse.BodySubscribers.mapping(GraphBodies.bounded(good ? GraphBodies.JSON_LIMIT
                    : GraphBodies.ERROR_LIMIT), s -> new Reply(info.statusCode(), null, s, null));
        };
        CompletableFuture<HttpResponse<Reply>> sent;
        try {
            sent = client(upstream).sendAsync(request(call, upstream, token, requestId), handler);
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        return sent.handle((response, failure) -> {
            if (failure != null) {
                release.run();
                GraphException e = ioFailure(call, upstream, requestId, failure);
                record(call, e.kind().name(), sample);
                throw new CompletionException(e);
            }
            Reply reply = response.body();
            Reply full = new Reply(reply.status(), reply.stream(), reply.text(), response);
            if (contains(ok, response.statusCode())) {
                record(call, "ok", sample);
                if (full.stream() != null) {
                    // the slot goes back when the body ends, fails or is cancelled, or after reply-timeout when
                    // nobody reads it or it stalls: the JDK's request timeout stops at the headers
                    return new Reply(full.status(), GraphDownload.start(full.stream(), release, scheduler, clock,
                            upstream.replyTimeout(), "Graph " + call.op().metricName + " for "
                                    + call.account().mailbox()), "", response);
                }
                release.run();
                return full;
            }
            release.run();
            GraphErrors.Body body = GraphErrors.Body.parse(reply.text());
            Optional<Duration> retryAfter = GraphErrors.retryAfter(response.headers().firstValue("Retry-After"), clock);
            String graphId = response.headers().firstValue("request-id").orElse("-");
            GraphException e = GraphErrors.exception(call.op(), call.account().mailbox(), response.statusCode(), body,
                    retryAfter).withRequestIds("client-request-id " + requestId + ", request-id " + graphId);
            if (e.kind() == Kind.THROTTLED) {
                retryAfter.ifPresent(d -> gate(call.account()).hold(d));
            }
            record(call, e.kind().name(), sample);
            if (e.kind() == Kind.NOT_FOUND || e.status() == 401) {
                LOG.debug("{} [{}]", e.getMessage(), e.requestIds());
            } else if (e.kind() == Kind.THROTTLED || e.kind() == Kind.NOT_AUTHORISED || e.kind() == Kind.REJECTED) {
                // every caller reports these itself, once, with its advice (SMTP's GraphSink and queue, the POP3
                // maildrop and session, the check's rows; they quote requestIds()): a WARN here would be a second
                LOG.info("{} [{}]", e.getMessage(), e.requestIds());
            } else {
                LOG.warn("{} [{}]", e.getMessage(), e.requestIds());
            }
            throw new CompletionException(e);
        });
    }

    private HttpRequest request(Call call, UpstreamConfig upstream, Optional<AccessToken> token, String requestId) {
        Duration timeout = upstream.replyTimeout().plusSeconds(call.bodyLength() / BYTES_PER_SECOND);
        HttpRequest.Builder b = HttpRequest.newBuilder(call.uri()).timeout(timeout)
                .header("client-request-id", requestId)
                .header("return-client-request-id", "true");
        if (call.authorised()) {
            // immutable ids survive moves between folders (concepts/outlook-immutable-id.md)
            b.header("Prefer", "IdType=\"ImmutableId\"").header("Accept", "application/json");
            token.ifPresent(t -> b.header("Authorization", "Bearer " + t.value()));
        }
        call.headers().forEach(b::header);
        if (call.body() != null) {
            b.header("Content-Type", call.contentType());
            b.method(call.method(), call.body().get());
        } else {
            b.method(call.method(), HttpRequest.BodyPublishers.noBody());
        }
        return b.build();
    }

    private HttpClient client(UpstreamConfig upstream) {
        Optional<Path> ca = upstream.caFile();
        long modified = 0;
        if (ca.isPresent()) {
            try {
                modified = Files.getLastModifiedTime(ca.get()).toMillis();
            } catch (IOException e) {
                throw unavailable("cannot read ca-file " + ca.get() + " of upstream " + upstream.name() + ": " + e, e);
            }
        }
        TrustKey key = new TrustKey(upstream.name(), ca, modified, upstream.connectTimeout());
        return clients.computeIfAbsent(key, k -> {
            try {
                SSLContext tls = SSLContext.getInstance("TLS");
                tls.init(null, ClientTls.trustManagers(upstream.name(), ca).getTrustManagers(), null);
                SSLParameters params = new SSLParameters();
                params.setProtocols(ClientTls.protocols());
                return HttpClient.newBuilder().executor(executor).sslContext(tls).sslParameters(params)
                        .connectTimeout(upstream.connectTimeout()).followRedirects(HttpClient.Redirect.NEVER)
                        .version(HttpClient.Version.HTTP_2).build();
            } catch (GeneralSecurityException | IOException e) {
                throw unavailable("cannot build the TLS context for upstream " + upstream.name() + ": "
                        + e.getMessage(), e);
            }
        });
    }

    private static GraphException unavailable(String message, Throwable cause) {
        return new GraphException(Kind.UNAVAILABLE, 0, "", message, Optional.empty(), cause);
    }

    /** No answer: connect, TLS, timeout, reset. The message names the host and what failed; never headers. */
    private GraphException ioFailure(Call call, UpstreamConfig upstream, String requestId, Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        if (cause instanceof GraphException ge) {
            return ge;
        }
        String what = cause instanceof HttpTimeoutException ? "no answer within " + upstream.replyTimeout().toSeconds()
                + " s (reply-timeout)" : cause instanceof SSLException ? "TLS failure: " + cause.getMessage()
                : cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
        String message = "Graph " + call.op().metricName + " for " + call.account().mailbox() + ": "
                + call.uri().getHost() + " unavailable, " + what;
        LOG.warn("{} [client-request-id {}]", message, requestId);
        return unavailable(message, cause);
    }

    /** The token could not be had: the endpoint down is UNAVAILABLE; what a person must fix is NOT_AUTHORISED. */
    private static GraphException tokenFailure(Call call, Throwable failure) {
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        // a refresh token missing or refused, a secret not stored, a bad client secret: a person must act
        boolean transientFailure = !(cause instanceof UpstreamException ue && ue.getCause() instanceof TokenException te
                && !te.transientFailure());
        String message = "Graph " + call.op().metricName + " for " + call.account().mailbox() + ": no access token: "
                + cause.getMessage();
        LOG.warn("{}", message);
        return new GraphException(transientFailure ? Kind.UNAVAILABLE : Kind.NOT_AUTHORISED, 0, "", message,
                Optional.empty(), cause);
    }

    static GraphException unwrap(Throwable failure) {
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof java.util.concurrent.ExecutionException)
                && t.getCause() != null) {
            t = t.getCause();
        }
        return t instanceof GraphException ge ? ge
                : new GraphException(Kind.UNAVAILABLE, 0, "", "Graph request failed: " + t, Optional.empty(), t);
    }

    private void record(Call call, String outcome, Timer.Sample sample) {
        String o = outcome.toLowerCase(Locale.ROOT);
        Counter.builder(METRIC).description("Microsoft Graph requests by operation and outcome")
                .tag("operation", call.op().metricName).tag("outcome", o).register(meters).increment();
        sample.stop(Timer.builder("mailproxy.graph.request.duration")
                .description("Microsoft Graph requests, until the answer's headers")
                .tag("operation", call.op().metricName).register(meters));
    }

    private static boolean contains(int[] ok, int status) {
        for (int s : ok) {
            if (s == status) {
                return true;
            }
        }
        return false;
    }

    void close() {
        executor.shutdownNow();
        try {
            executor.awaitTermination(1, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
