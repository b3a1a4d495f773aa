package io.mailproxy.testkit.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Upload sessions for large attachments (MGDC api-reference/v1.0/api/attachment-createuploadsession.md,
 * concepts/outlook-large-attachments.md): {@code POST .../attachments/createUploadSession} → 201 with a
 * pre-authenticated {@code uploadUrl}; sequential {@code PUT}s with {@code Content-Range: bytes a-b/total} → 200 with
 * {@code nextExpectedRanges} until the last → 201 with a {@code Location}; {@code DELETE} cancels. The bytes are never
 * held whole: a SHA-256 and the size, plus the bytes when small.
 */
final class UploadSessions implements AutoCloseable {
    static final String PATH = "/upload/";
    /** outlook-large-attachments.md: upload sessions are for files from 3 MB to 150 MB. */
    static final long MIN_SIZE = 3L * 1024 * 1024;
    static final long MAX_SIZE = 150L * 1024 * 1024;
    /** (U) for Outlook: OneDrive's per-PUT maximum; Outlook's docs say "up to 4 MB each time" as advice. */
    static final long MAX_CHUNK = 60L * 1024 * 1024;
    /** (U) how long an Outlook upload session lives; the doc's sample shows only that it expires. */
    static final Duration LIFETIME = Duration.ofHours(6);
    private static final Pattern RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+)");

    private final FakeGraph graph;
    private final Map<String, Session> sessions = new ConcurrentHashMap<>();
    /** Chunk sizes of every PUT received, in order, for assertions. */
    final List<Long> chunkSizes = new CopyOnWriteArrayList<>();

    private static final class Session {
        final String id;
        final String authToken;
        final GraphMailbox mailbox;
        final String messageId;
        final String name;
        final String contentType;
        final boolean inline;
        final String contentId;
        final long size;
        final MessageDigest digest;
        final ByteArrayOutputStream kept;
        long next;
        Instant expires;

        Session(String id, String authToken, GraphMailbox mailbox, String messageId, JsonNode item, long size,
                boolean keep, Instant expires) {
            this.id = id;
            this.authToken = authToken;
            this.mailbox = mailbox;
            this.messageId = messageId;
            this.name = item.get("name").asText();
            this.contentType = item.path("contentType").asText("application/octet-stream");
            this.inline = item.path("isInline").asBoolean(false);
            this.contentId = item.hasNonNull("contentId") ? item.get("contentId").asText() : null;
            this.size = size;
            this.kept = keep ? new ByteArrayOutputStream((int) size) : null;
            this.expires = expires;
            try {
                this.digest = MessageDigest.getInstance("SHA-256");
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    UploadSessions(FakeGraph graph) {
        this.graph = graph;
    }

    /** {@code POST /users/{id}/messages/{id}/attachments/createUploadSession} {@code {"AttachmentItem":{...}}}. */
    void create(Call c) throws IOException {
        String messageId = c.segments.get(1);
        Optional<GraphMessage> message = c.mailbox.message(messageId);
        JsonNode body = c.jsonBodyOrAnswer();
        if (body == null) {
            return;
        }
        if (message.isEmpty()) {
            c.error(404, "ErrorItemNotFound", MessagesApi.NOT_FOUND);
            return;
        }
        JsonNode item = body.has("AttachmentItem") ? body.get("AttachmentItem") : body.get("attachmentItem");
        // resources/attachmentitem.md: attachmentType, name and size; name and size are required.
        if (item == null || !item.hasNonNull("name") || !item.path("size").canConvertToLong()
                || !"file".equalsIgnoreCase(item.path("attachmentType").asText("file"))) {
            c.error(400, "ErrorInvalidRequest", "The AttachmentItem needs attachmentType file, name and size."); // (U)
            return;
        }
        long size = item.get("size").asLong();
        if (size < MIN_SIZE) {
            // outlook-large-attachments.md names the code; the message text is (U).
            c.error(400, "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize",
                    "Attachment size must be greater than the minimum size.");
            return;
        }
        if (size > MAX_SIZE) {
            c.error(400, "ErrorAttachmentSizeShouldNotBeGreaterThanMaximumSize", // (U) code and text
                    "Attachment size must be less than the maximum size.");
            return;
        }
        // The tenant's message size limit counts the attachment base64-encoded (graph-evidence.md, (O)).
        if (message.get().messageSize() + (size + 2) / 3 * 4 > graph.maxMessageBytes) {
            c.error(400, "ErrorMessageSizeExceeded", MessagesApi.sizeMessage());
            return;
        }
        String id = graph.ids.opaque(24);
        Session s = new Session(id, graph.ids.opaque(48), c.mailbox, messageId, item, size,
                size <= graph.keepAttachmentBytesUpTo, graph.now().plus(LIFETIME));
        sessions.put(id, s);
        ObjectNode out = Call.JSON.createObjectNode();
        out.put("@odata.context", graph.baseUrl() + "/$metadata#microsoft.graph.uploadSession");
        out.put("uploadUrl", graph.origin() + PATH + id + "?authtoken=" + s.authToken);
        out.put("expirationDateTime", s.expires.toString());
        out.putArray("nextExpectedRanges").add("0-");
        c.json(201, out);
    }

    /** A PUT or DELETE on an upload URL ({@code rest}: the session id). No bearer token: the URL is pre-authenticated. */
    void handle(Call c, String rest) throws IOException {
        Session s = sessions.get(rest);
        String token = c.query.get("authtoken");
        if (s == null || token == null || !token.equals(s.authToken) || graph.now().isAfter(s.expires)) {
            drain(c);
            c.error(404, "ErrorItemNotFound", "The upload session was not found or has expired."); // (U)
            return;
        }
        c.mailboxName = s.mailbox.address();
        if (c.header("Authorization") != null) {
            // The uploadUrl is pre-authenticated (outlook-large-attachments.md: it "contains the appropriate
            // authorization token"); Microsoft documents 401 for an Authorization header on OneDrive's upload URLs
            // (driveitem-createuploadsession.md) and "don't specify" for mailboxItemImportSession. (U) for Outlook.
            drain(c);
            c.error(401, "InvalidAuthenticationToken", "An Authorization header is not allowed on a pre-authenticated URL.");
            return;
        }
        if ("DELETE".equals(c.method)) {
            sessions.remove(rest);
            c.empty(204);
            return;
        }
        if (!"PUT".equals(c.method)) {
            drain(c);
            c.error(405, "BadRequest", "Only PUT and DELETE are allowed on an upload URL.");
            return;
        }
        put(c, s);
    }

    private void put(Call c, Session s) throws IOException {
        String range = c.header("Content-Range");
        Matcher m = range == null ? null : RANGE.matcher(range.trim());
        if (m == null || !m.matches()) {
            drain(c);
            c.error(400, "InvalidContentRange", "The Content-Range header is missing or malformed."); // (U)
            return;
        }
        long start = Long.parseLong(m.group(1));
        long end = Long.parseLong(m.group(2));
        long total = Long.parseLong(m.group(3));
        long length = end - start + 1;
        if (total != s.size || end < start || end >= total) {
            drain(c);
            c.error(400, "InvalidContentRange", "The Content-Range does not match the upload session's size."); // (U)
            return;
        }
        if (start != s.next) {
            drain(c);
            // errors.md lists invalidRange generically; for Outlook sessions (U).
            c.error(416, "invalidRange", "The uploaded fragment does not start at the next expected byte " + s.next + ".");
            return;
        }
        if (length > MAX_CHUNK) {
            drain(c);
            c.tooLarge();
            return;
        }
        if (graph.chunkMultiple > 0 && end + 1 < total && length % graph.chunkMultiple != 0) {
            drain(c);
            c.error(400, "InvalidContentRange", "Fragments must be multiples of " + graph.chunkMultiple + " bytes.");
            return;
        }
        long read = 0;
        try (InputStream in = c.exchange.getRequestBody()) {
            byte[] buf = new byte[65536];
            int n;
            synchronized (s) {
                while ((n = in.read(buf)) > 0) {
                    long take = Math.min(n, length - read);
                    if (take > 0) {
                        s.digest.update(buf, 0, (int) take);
                        if (s.kept != null) {
                            s.kept.write(buf, 0, (int) take);
                        }
                    }
                    read += n;
                }
            }
        }
        c.requestBytes = read;
        chunkSizes.add(read);
        if (read != length) {
            // The session is now out of step; the fake refuses it from here on, as a torn fragment would.
            sessions.remove(s.id);
            c.error(400, "InvalidContentRange", "The body length " + read + " does not match the Content-Range."); // (U)
            return;
        }
        synchronized (s) {
            s.next = end + 1;
            s.expires = graph.now().plus(LIFETIME);
        }
        if (s.next < s.size) {
            // The intermediate answer as the doc's sample shows it (PascalCase ExpirationDateTime; Outlook gives one
            // value "{start}" in nextExpectedRanges: resources/uploadsession.md).
            ObjectNode out = Call.JSON.createObjectNode();
            out.put("@odata.context", graph.origin() + "/api/v2.0/$metadata#Users('" + s.mailbox.address()
                    + "')/Messages('" + s.messageId + "')/AttachmentSessions/$entity");
            out.put("ExpirationDateTime", s.expires.toString());
            out.putArray("nextExpectedRanges").add(Long.toString(s.next));
            c.json(200, out);
            return;
        }
        sessions.remove(s.id);
        Optional<GraphMessage> message = s.mailbox.message(s.messageId);
        if (message.isEmpty()) {
            c.error(404, "ErrorItemNotFound", MessagesApi.NOT_FOUND);
            return;
        }
        StoredAttachment a = new StoredAttachment(graph.ids.attachment(), s.name, s.contentType, s.inline,
                Optional.ofNullable(s.contentId), s.size, s.digest.digest(),
                s.kept == null ? Optional.empty() : Optional.of(s.kept.toByteArray()), true);
        message.get().attachments.add(a);
        // The last PUT: 201, no body, Location naming the attachment (outlook-large-attachments.md, step 2).
        c.exchange.getResponseHeaders().set("Location", graph.origin() + "/api/v2.0/Users('" + s.mailbox.address()
                + "')/Messages('" + s.messageId + "')/Attachments('" + a.id() + "')");
        c.empty(201);
    }

    private static void drain(Call c) throws IOException {
        try (InputStream in = c.exchange.getRequestBody()) {
            c.requestBytes = in.transferTo(java.io.OutputStream.nullOutputStream());
        }
    }

    int open() {
        return sessions.size();
    }

    @Override
    public void close() {
        sessions.clear();
    }
}
