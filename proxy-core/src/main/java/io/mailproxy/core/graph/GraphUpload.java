package io.mailproxy.core.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.core.graph.GraphHttp.Call;
import java.net.URI;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One large attachment through an upload session (microsoft-graph-docs-contrib api-reference/v1.0/api/
 * attachment-createuploadsession.md, concepts/outlook-large-attachments.md; docs/research/graph-evidence.md section 3):
 * {@code POST .../attachments/createUploadSession} ({@code 201} with {@code uploadUrl} and {@code nextExpectedRanges}),
 * then {@code PUT uploadUrl} of consecutive byte ranges with {@code Content-Range: bytes s-e/total}, each streamed
 * from the source; {@code 200} with the next expected range until the last, which answers {@code 201}. The upload
 * URL is pre-authenticated: no Authorization header goes to it ("Do not specify an Authorization request header",
 * outlook-large-attachments.md). After a failed chunk the upload resumes once from the last range Graph expected.
 */
final class GraphUpload {

    private static final Logger LOG = LoggerFactory.getLogger(GraphUpload.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final GraphHttp http;
    private final AccountConfig account;
    private final String draftId;
    private final AttachmentUpload upload;
    private final int chunk;
    private final long total;
    private boolean resumed;

    GraphUpload(GraphHttp http, AccountConfig account, String draftId, AttachmentUpload upload, int chunk) {
        this.http = http;
        this.account = account;
        this.draftId = draftId;
        this.upload = upload;
        this.chunk = chunk;
        this.total = upload.content().size();
    }

    CompletableFuture<Void> run() {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode item = body.putObject("AttachmentItem");
        item.put("attachmentType", "file");
        item.put("name", upload.name());
        item.put("size", total);
        item.put("contentType", upload.contentType());
        item.put("isInline", upload.inline());
        upload.contentId().ifPresent(id -> item.put("contentId", id));
        URI uri = session();
        return http.send(GraphClient.json(Call.of(GraphOperation.UPLOAD_SESSION, account, "POST", uri), body), 201)
                .thenCompose(r -> {
                    JsonNode json = GraphClient.parse(GraphOperation.UPLOAD_SESSION, r.text());
                    String url = json.path("uploadUrl").asText("");
                    if (url.isEmpty() || !url.regionMatches(true, 0, "https://", 0, 8)) {
                        return CompletableFuture.failedFuture(new GraphException(Kind.SERVER, r.status(), "",
                                "Graph upload session for " + account.mailbox() + ": no https uploadUrl in the answer",
                                Optional.empty(), null));
                    }
                    return put(URI.create(url), next(json, 0));
                });
    }

    private URI session() {
        URI graph = http.upstream(account).graph().orElseThrow();
        return URI.create(graph + "/users/" + GraphClient.encode(account.mailbox()).replace("%40", "@")
                + "/messages/" + GraphClient.encode(draftId) + "/attachments/createUploadSession");
    }

    /** Sends the range from {@code from}; recurses on the future chain (one PUT at a time, in order). */
    private CompletableFuture<Void> put(URI url, long from) {
        if (from >= total) {
            return CompletableFuture.failedFuture(new GraphException(Kind.SERVER, 0, "", "Graph upload for "
                    + account.mailbox() + ": the session expects no more bytes but has not completed",
                    Optional.empty(), null));
        }
        long length = Math.min(chunk, total - from);
        long end = from + length - 1;
        Call call = Call.of(GraphOperation.UPLOAD_CHUNK, account, "PUT", url)
                .body("application/octet-stream", () -> GraphBodies.range(upload.content(), from, length), length)
                .withHeaders(Map.of("Content-Range", "bytes " + from + "-" + end + "/" + total))
                .unauthorised();
        return http.send(call, 200, 201).thenCompose(r -> {
            if (r.status() == 201) {
                return CompletableFuture.<Void>completedFuture(null);
            }
            return put(url, next(GraphClient.parse(GraphOperation.UPLOAD_CHUNK, r.text()), end + 1));
        }).exceptionallyCompose(e -> {
            GraphException ge = GraphHttp.unwrap(e);
            boolean transientFailure = ge.kind() == Kind.UNAVAILABLE || ge.kind() == Kind.SERVER
                    || ge.kind() == Kind.THROTTLED;
            if (!transientFailure || resumed) {
                return CompletableFuture.failedFuture(ge);
            }
            resumed = true;
            LOG.info("Graph upload of {} for {}: the range from byte {} failed ({}); resuming once from there",
                    upload.name(), account.mailbox(), from, ge.kind());
            return put(url, from);
        });
    }

    /** The first byte of {@code nextExpectedRanges} ("2097152-" or "2097152"), else {@code fallback}. */
    static long next(JsonNode json, long fallback) {
        JsonNode ranges = json.path("nextExpectedRanges");
        if (ranges.isArray() && !ranges.isEmpty()) {
            String first = ranges.get(0).asText("");
            int dash = first.indexOf('-');
            try {
                return Long.parseLong(dash < 0 ? first.trim() : first.substring(0, dash).trim());
            } catch (NumberFormatException ignored) {
                return fallback;
            }
        }
        return fallback;
    }
}
