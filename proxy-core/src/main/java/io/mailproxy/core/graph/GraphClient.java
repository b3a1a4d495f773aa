package io.mailproxy.core.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.credentials.UpstreamCredentials;
import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.core.graph.GraphHttp.Call;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * {@link GraphMail} over the JDK's HttpClient: see {@link GraphHttp} for tokens, throttling, retries and errors, and
 * {@link GraphFolders} for folder paths. Each call is one or a few requests to
 * {@code <graph>/users/{mailbox}/...}; request bodies stream from their {@link MimeSource} ({@link GraphBodies}).
 * Endpoints and status codes: microsoft-graph-docs-contrib api-reference/v1.0/api/user-sendmail.md (202),
 * user-post-messages.md (201), message-update.md (200), message-send.md (202), message-get.md ($value, 200),
 * message-delete.md (204), message-move.md (201), user-list-messages.md, attachment-createuploadsession.md and
 * concepts/outlook-large-attachments.md; docs/research/graph-evidence.md sections 1 to 7.
 */
public final class GraphClient implements GraphMail, AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Listing page size: Graph takes 1 to 1000 (default 10); big pages may answer 504 (user-list-messages.md). */
    static final int PAGE = 100;
    /** PidTagMessageSize, Exchange's size estimate (singlevaluelegacyextendedproperty-get.md; evidence section 6). */
    static final String SIZE_PROPERTY = "Integer 0x0E08";
    private static final String SELECT = "id,receivedDateTime,isRead,isDraft";

    private final GraphHttp http;
    private final GraphFolders folders;
    private final Supplier<MailproxyConfig> config;
    private final Function<UpstreamConfig, GraphSettings> settings;

    /**
     * @param config      the current configuration (read at each call: a reload takes effect)
     * @param credentials the accounts' tokens ({@link UpstreamCredentials#graphToken})
     * @param meters      {@code mailproxy_graph_requests_total{operation,outcome}} and a timer
     * @param clock       Retry-After dates, holds, the folder cache
     * @param scheduler   ends of Retry-After holds
     * @param settings    each upstream's limits ({@code u -> GraphSettings.DEFAULTS} until they are configured)
     */
    public static GraphClient create(Supplier<MailproxyConfig> config, UpstreamCredentials credentials,
                                     MeterRegistry meters, Clock clock, Scheduler scheduler,
                                     Function<UpstreamConfig, GraphSettings> settings) {
        AtomicInteger n = new AtomicInteger();
        ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "mailproxy-graph-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        return new GraphClient(new GraphHttp(config, credentials, meters, clock, scheduler, executor, settings),
                config, settings, clock);
    }

    private GraphClient(GraphHttp http, Supplier<MailproxyConfig> config,
                        Function<UpstreamConfig, GraphSettings> settings, Clock clock) {
        this.http = http;
        this.config = config;
        this.settings = settings;
        this.folders = new GraphFolders(http, clock);
    }

    GraphHttp http() {
        return http;
    }

    // ---------------------------------------------------------------------------------------------- sending

    @Override
    public CompletableFuture<Void> sendMime(AccountConfig account, MimeSource mime) {
        return guard(() -> {
            tooBig(account, mime, GraphOperation.SEND_MAIL);
            return http.send(mimeCall(GraphOperation.SEND_MAIL, account, users(account, "sendMail"), mime), 202)
                    .thenApply(r -> null);
        });
    }

    @Override
    public CompletableFuture<String> createMimeDraft(AccountConfig account, MimeSource mime) {
        return guard(() -> {
            tooBig(account, mime, GraphOperation.CREATE_DRAFT);
            return http.send(mimeCall(GraphOperation.CREATE_DRAFT, account, users(account, "messages"), mime), 201)
                    .thenApply(r -> id(GraphOperation.CREATE_DRAFT, r));
        });
    }

    /** The MIME message base64-encoded as text/plain ("text/plain for MIME content", user-sendmail.md). */
    private Call mimeCall(GraphOperation op, AccountConfig account, URI uri, MimeSource mime) {
        return Call.of(op, account, "POST", uri).body("text/plain", () -> GraphBodies.base64(mime),
                GraphBodies.base64Length(mime.size()));
    }

    private void tooBig(AccountConfig account, MimeSource mime, GraphOperation op) {
        long max = http.settings(account).maxMimeRequestBytes();
        if (mime.size() > max) {
            throw new GraphException(Kind.REJECTED, 0, "", "Graph " + op.metricName + " for " + account.mailbox()
                    + ": a MIME message of " + mime.size() + " bytes exceeds the " + max + " bytes one request may carry"
                    + " (graph-max-request); send it as a draft with attachment uploads", Optional.empty(), null);
        }
    }

    @Override
    public CompletableFuture<Void> setRecipients(AccountConfig account, String draftId, Recipients recipients) {
        return guard(() -> {
            ObjectNode body = JSON.createObjectNode();
            body.set("toRecipients", addresses(recipients.to()));
            body.set("ccRecipients", addresses(recipients.cc()));
            body.set("bccRecipients", addresses(recipients.bcc()));
            return http.send(json(Call.of(GraphOperation.SET_RECIPIENTS, account, "PATCH",
                    users(account, "messages", draftId)), body), 200).thenApply(r -> null);
        });
    }

    private static ArrayNode addresses(List<String> list) {
        ArrayNode out = JSON.createArrayNode();
        list.forEach(a -> out.addObject().putObject("emailAddress").put("address", a));
        return out;
    }

    @Override
    public CompletableFuture<Void> addAttachment(AccountConfig account, String draftId, AttachmentUpload upload) {
        return guard(() -> {
            GraphSettings limits = http.settings(account);
            if (upload.content().size() <= limits.maxMimeRequestBytes()) {
                return smallAttachment(account, draftId, upload);
            }
            return new GraphUpload(http, account, draftId, upload, limits.uploadChunkBytes()).run()
                    .exceptionallyCompose(e -> {
                        GraphException ge = GraphHttp.unwrap(e);
                        // under Graph's 3 MB minimum for a session (concepts/outlook-large-attachments.md, "Errors"):
                        // "3 MB" may be 3 MiB; our inline limit is below 3,000,000, so the gap goes inline
                        if ("ErrorAttachmentSizeShouldNotBeLessThanMinimumSize".equals(ge.code())) {
                            return smallAttachment(account, draftId, upload);
                        }
                        return CompletableFuture.failedFuture(ge);
                    });
        });
    }

    /**
     * {@code POST .../attachments} with a fileAttachment whose {@code contentBytes} is base64-encoded as the request
     * streams (message-post-attachments.md); the JSON around it is small.
     */
    private CompletableFuture<Void> smallAttachment(AccountConfig account, String draftId, AttachmentUpload upload) {
        ObjectNode head = JSON.createObjectNode();
        head.put("@odata.type", "#microsoft.graph.fileAttachment");
        head.put("name", upload.name());
        head.put("contentType", upload.contentType());
        head.put("isInline", upload.inline());
        upload.contentId().ifPresent(id -> head.put("contentId", id));
        String open = head.toString();
        byte[] prefix = (open.substring(0, open.length() - 1) + ",\"contentBytes\":\"").getBytes(StandardCharsets.UTF_8);
        byte[] suffix = "\"}".getBytes(StandardCharsets.UTF_8);
        long length = prefix.length + GraphBodies.base64Length(upload.content().size()) + suffix.length;
        Call call = Call.of(GraphOperation.ADD_ATTACHMENT, account, "POST",
                        users(account, "messages", draftId, "attachments"))
                .body("application/json", () -> GraphBodies.base64(upload.content(), prefix, suffix), length);
        return http.send(call, 201).thenApply(r -> null);
    }

    @Override
    public CompletableFuture<Void> sendDraft(AccountConfig account, String draftId) {
        // never retried automatically: after a lost 202 a second send could send twice; the caller decides
        return guard(() -> http.send(Call.of(GraphOperation.SEND_DRAFT, account, "POST",
                users(account, "messages", draftId, "send")), 202).thenApply(r -> null));
    }

    @Override
    public CompletableFuture<Optional<MessageInfo>> message(AccountConfig account, String id) {
        return guard(() -> http.send(Call.of(GraphOperation.GET_MESSAGE, account, "GET",
                        withQuery(users(account, "messages", id), "$select", SELECT, "$expand", expandSize())), 200)
                .thenApply(r -> Optional.of(info(parse(GraphOperation.GET_MESSAGE, r.text()))))
                .exceptionallyCompose(e -> {
                    GraphException ge = GraphHttp.unwrap(e);
                    return ge.kind() == Kind.NOT_FOUND ? CompletableFuture.completedFuture(Optional.empty())
                            : CompletableFuture.failedFuture(ge);
                }));
    }

    @Override
    public CompletableFuture<Void> delete(AccountConfig account, String id) {
        return guard(() -> http.send(Call.of(GraphOperation.DELETE, account, "DELETE",
                        users(account, "messages", id)), 204, 200)
                .<Void>thenApply(r -> null)
                .exceptionallyCompose(e -> {
                    GraphException ge = GraphHttp.unwrap(e);
                    return ge.kind() == Kind.NOT_FOUND ? CompletableFuture.completedFuture(null)
                            : CompletableFuture.failedFuture(ge);
                }));
    }

    /** The smallest limit among the upstreams with Graph (the contract's limit has no account). */
    @Override
    public long maxMimeRequestBytes() {
        return config.get().upstreams().values().stream().filter(u -> u.graph().isPresent())
                .mapToLong(u -> settings.apply(u).maxMimeRequestBytes()).min()
                .orElse(GraphSettings.DEFAULTS.maxMimeRequestBytes());
    }

    // ---------------------------------------------------------------------------------------------- reading

    @Override
    public CompletableFuture<MessagePage> list(AccountConfig account, String folder, boolean unreadOnly,
                                               Optional<String> next) {
        return guard(() -> {
            CompletableFuture<URI> uri;
            if (next.isPresent()) {
                uri = CompletableFuture.completedFuture(sameHost(account, next.get()));
            } else {
                uri = folders.resolve(account, folder).thenApply(id -> {
                    List<String> q = new ArrayList<>(List.of("$select", SELECT, "$expand", expandSize(),
                            "$orderby", "receivedDateTime asc", "$top", Integer.toString(PAGE)));
                    if (unreadOnly) {
                        // the property ordered by must come first in $filter, or Graph answers 400 InefficientFilter
                        // (user-list-messages.md; evidence section 6)
                        q.addAll(List.of("$filter", "receivedDateTime ge 1900-01-01T00:00:00Z and isRead eq false"));
                    }
                    return withQuery(users(account, "mailFolders", id, "messages"), q.toArray(new String[0]));
                });
            }
            return uri.thenCompose(u -> http.send(Call.of(GraphOperation.LIST, account, "GET", u), 200))
                    .thenApply(r -> page(parse(GraphOperation.LIST, r.text())));
        });
    }

    private static MessagePage page(JsonNode json) {
        List<MessageInfo> out = new ArrayList<>();
        for (JsonNode m : json.path("value")) {
            MessageInfo info = info(m);
            if (!info.draft()) {
                out.add(info);
            }
        }
        JsonNode next = json.get("@odata.nextLink");
        return new MessagePage(out, next == null || next.isNull() ? Optional.empty() : Optional.of(next.asText()));
    }

    static MessageInfo info(JsonNode m) {
        long size = 0;
        for (JsonNode p : m.path("singleValueExtendedProperties")) {
            // Graph may echo the tag as "Integer 0xe08" (evidence section 6): compare the tag, ignoring case
            String pid = p.path("id").asText("").toLowerCase(java.util.Locale.ROOT).replace("0x0e08", "0xe08");
            if (pid.endsWith("0xe08")) {
                try {
                    size = Long.parseLong(p.path("value").asText("0").trim());
                } catch (NumberFormatException ignored) {
                    size = 0;
                }
            }
        }
        String received = m.path("receivedDateTime").asText("");
        Instant at = received.isEmpty() ? Instant.EPOCH : Instant.parse(received);
        return new MessageInfo(m.path("id").asText(), size, m.path("isRead").asBoolean(false),
                m.path("isDraft").asBoolean(false), at);
    }

    @Override
    public CompletableFuture<Flow.Publisher<List<ByteBuffer>>> download(AccountConfig account, String id) {
        return guard(() -> http.send(Call.of(GraphOperation.DOWNLOAD, account, "GET",
                users(account, "messages", id, "$value")).streamed(), 200).thenApply(GraphHttp.Reply::stream));
    }

    @Override
    public CompletableFuture<Void> markRead(AccountConfig account, String id) {
        return guard(() -> http.send(json(Call.of(GraphOperation.MARK_READ, account, "PATCH",
                users(account, "messages", id)), JSON.createObjectNode().put("isRead", true)), 200)
                .thenApply(r -> null));
    }

    @Override
    public CompletableFuture<Void> move(AccountConfig account, String id, String destination) {
        return guard(() -> folders.resolve(account, destination).thenCompose(folder -> http.send(
                json(Call.of(GraphOperation.MOVE, account, "POST", users(account, "messages", id, "move")),
                        JSON.createObjectNode().put("destinationId", folder)), 201, 200))
                .thenApply(r -> null));
    }

    @Override
    public void close() {
        http.close();
    }

    // ---------------------------------------------------------------------------------------------- helpers

    private static String expandSize() {
        return "singleValueExtendedProperties($filter=id eq '" + SIZE_PROPERTY + "')";
    }

    /** A nextLink is followed as given, but only to the Graph host: our token never goes anywhere else. */
    private URI sameHost(AccountConfig account, String next) {
        URI graph = http.upstream(account).graph().orElseThrow();
        URI uri;
        try {
            uri = URI.create(next);
        } catch (IllegalArgumentException e) {
            uri = null;
        }
        if (uri == null || !"https".equalsIgnoreCase(uri.getScheme())
                || !graph.getRawAuthority().equalsIgnoreCase(uri.getRawAuthority())) {
            throw new GraphException(Kind.REJECTED, 0, "", "Graph list for " + account.mailbox()
                    + ": a next page link not on " + graph.getHost() + " is not followed", Optional.empty(), null);
        }
        return uri;
    }

    static Call json(Call call, JsonNode body) {
        byte[] bytes = body.toString().getBytes(StandardCharsets.UTF_8);
        return call.body("application/json", () -> HttpRequest.BodyPublishers.ofByteArray(bytes), bytes.length);
    }

    static JsonNode parse(GraphOperation op, String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new CompletionException(new GraphException(Kind.SERVER, 0, "", "Graph " + op.metricName
                    + ": the answer is not JSON: " + e.getMessage(), Optional.empty(), e));
        }
    }

    static String id(GraphOperation op, GraphHttp.Reply reply) {
        String id = parse(op, reply.text()).path("id").asText("");
        if (id.isEmpty()) {
            throw new CompletionException(new GraphException(Kind.SERVER, reply.status(), "", "Graph " + op.metricName
                    + ": the answer has no id", Optional.empty(), null));
        }
        return id;
    }

    /** {@code <graph>/users/{mailbox}/seg/seg...}, each segment percent-encoded (ids may hold / + =). */
    URI users(AccountConfig account, String... segments) {
        URI graph = http.upstream(account).graph().orElseThrow();
        StringBuilder b = new StringBuilder(graph.toString()).append("/users/")
                .append(encode(account.mailbox()).replace("%40", "@"));
        for (String s : segments) {
            b.append('/').append(s.startsWith("$") ? s : encode(s));
        }
        return URI.create(b.toString());
    }

    /** Adds {@code name=value} pairs; values percent-encoded, OData's {@code $} names as they are. */
    static URI withQuery(URI uri, String... pairs) {
        StringBuilder b = new StringBuilder(uri.toString());
        for (int i = 0; i < pairs.length; i += 2) {
            b.append(i == 0 && uri.getRawQuery() == null ? '?' : '&').append(pairs[i]).append('=')
                    .append(encode(pairs[i + 1]));
        }
        return URI.create(b.toString());
    }

    static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** Runs {@code body}; a synchronous failure (a bad config, a refusal) becomes the future's failure. */
    private static <T> CompletableFuture<T> guard(Supplier<CompletableFuture<T>> body) {
        try {
            return body.get().exceptionallyCompose(e -> CompletableFuture.failedFuture(GraphHttp.unwrap(e)));
        } catch (GraphException e) {
            return CompletableFuture.failedFuture(e);
        } catch (UncheckedIOException e) {
            return CompletableFuture.failedFuture(new GraphException(Kind.UNAVAILABLE, 0, "", e.getMessage(),
                    Optional.empty(), e));
        }
    }
}
