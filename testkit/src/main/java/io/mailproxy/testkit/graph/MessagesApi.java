package io.mailproxy.testkit.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** sendMail, MIME drafts and their recipients, attachments, send, get, {@code $value}, read flag, move, delete. */
final class MessagesApi {
    /** Error message Graph gives for an unknown or gone item ((O) graph-evidence.md §2, §4). */
    static final String NOT_FOUND = "The specified object was not found in the store., Item not found.";
    private final FakeGraph graph;

    MessagesApi(FakeGraph graph) {
        this.graph = graph;
    }

    /**
     * {@code POST /users/{id}/sendMail} with {@code Content-Type: text/plain} and the MIME message base64-encoded →
     * {@code 202} with no body (MGDC api-reference/v1.0/api/user-sendmail.md); bad base64 → 400
     * ErrorMimeContentInvalidBase64String (same page, example 4). Graph sends to the To, Cc and Bcc headers' addresses
     * (concepts/outlook-things-to-know-about-send-mail.md) and saves a copy in Sent Items.
     */
    void sendMail(Call c) throws IOException {
        byte[] mime = mimeBody(c);
        if (mime == null) {
            return;
        }
        MimeHeaders headers = headers(c, mime);
        if (headers == null || !sendable(c, mime.length, headers.to().size() + headers.cc().size()
                + headers.bcc().size())) {
            return;
        }
        SentMessage sent = c.mailbox.recordSend(mime, headers, null);
        deliverLocally(sent);
        c.empty(202);
    }

    /**
     * {@code POST /users/{id}/messages} with base64 MIME → {@code 201} and the draft (isDraft true) in Drafts, its
     * recipient table from the MIME's To/Cc/Bcc (MGDC api-reference/v1.0/api/user-post-messages.md). A JSON body
     * (a draft from properties) is not modelled.
     */
    void createDraft(Call c) throws IOException {
        byte[] mime = mimeBody(c);
        if (mime == null) {
            return;
        }
        MimeHeaders headers = headers(c, mime);
        if (headers == null) {
            return;
        }
        GraphMessage draft = c.mailbox.createDraft(mime, headers);
        c.json(201, withContext(c, MessageJson.render(graph, draft, null, false), "/messages/$entity"));
    }

    void get(Call c) throws IOException {
        GraphMessage m = find(c);
        if (m != null) {
            c.json(200, withContext(c, MessageJson.render(graph, m, ListingApi.select(c), ListingApi.expandsSize(c)),
                    "/messages/$entity"));
        }
    }

    /**
     * {@code PATCH /users/{id}/messages/{id}} → 200 and the message (MGDC api-reference/v1.0/api/message-update.md):
     * toRecipients, ccRecipients, bccRecipients, isRead; subject only while isDraft. Whether a PATCH of the recipients
     * of a MIME-created draft behaves exactly so is (U) (graph-evidence.md §2).
     */
    void patch(Call c) throws IOException {
        GraphMessage m = find(c);
        if (m == null) {
            drainQuietly(c);
            return;
        }
        JsonNode body = c.jsonBodyOrAnswer();
        if (body == null) {
            return;
        }
        Optional<List<EmailAddress>> to = recipients(body, "toRecipients");
        Optional<List<EmailAddress>> cc = recipients(body, "ccRecipients");
        Optional<List<EmailAddress>> bcc = recipients(body, "bccRecipients");
        if (to == null || cc == null || bcc == null) {
            c.error(400, "ErrorInvalidRecipients", "At least one recipient is not valid.");
            return;
        }
        if (body.has("subject") && !m.draft()) {
            // message-update.md: subject is "Updatable only if isDraft = true". The error code is (U).
            c.error(400, "ErrorInvalidPropertyUpdateSentMessage", "Update operation is invalid for property of a sent message.");
            return;
        }
        synchronized (c.mailbox) {
            m.recipients(to, cc, bcc, graph.now());
            if (body.has("isRead")) {
                m.read(body.get("isRead").asBoolean(), graph.now());
            }
            if (body.has("subject")) {
                m.subject(body.get("subject").asText(), graph.now());
            }
        }
        c.json(200, withContext(c, MessageJson.render(graph, m, null, false), "/messages/$entity"));
    }

    private static Optional<List<EmailAddress>> recipients(JsonNode body, String field) {
        if (!body.has(field)) {
            return Optional.empty();
        }
        List<EmailAddress> list = MessageJson.parseRecipients(body.get(field));
        return list == null ? null : Optional.of(list);
    }

    /**
     * {@code DELETE /users/{id}/messages/{id}} → 204 (MGDC api-reference/v1.0/api/message-delete.md). Where the item
     * goes is not stated there; users observe a soft delete into Recoverable Items, not Deleted Items
     * (graph-evidence.md §7, (O)), which is what the fake does.
     */
    void delete(Call c) throws IOException {
        if (find(c) != null) {
            c.mailbox.softDelete(c.segments.get(1));
            c.empty(204);
        }
    }

    /** {@code POST .../permanentDelete} → 204 (MGDC api-reference/v1.0/api/message-permanentdelete.md). */
    void permanentDelete(Call c) throws IOException {
        if (find(c) != null) {
            c.mailbox.softDelete(c.segments.get(1));
            synchronized (c.mailbox) {
                c.mailbox.recoverableItemsInternal().removeIf(m -> m.id().equals(c.segments.get(1)));
            }
            c.empty(204);
        }
    }

    /**
     * {@code POST /users/{id}/messages/{id}/send} → 202, no body; "saves the message in the Sent Items folder"
     * (MGDC api-reference/v1.0/api/message-send.md). The draft leaves Drafts; its id then answers 404 until (and
     * unless {@link FakeGraph#sentCopyKeepsId}) the immutable id resolves to the Sent Items copy.
     */
    void send(Call c) throws IOException {
        GraphMessage draft = find(c);
        drainQuietly(c);
        if (draft == null) {
            return;
        }
        if (!draft.draft()) {
            // (U) code for sending an item that is not a draft.
            c.error(400, "ErrorInvalidOperation", "Only drafts can be sent.");
            return;
        }
        if (!sendable(c, draft.messageSize(), draft.allRecipients().size())) {
            return;
        }
        draft.sent();
        SentMessage sent = c.mailbox.recordSend(draft.mimeBytesOrNull(), draft.headers(), draft);
        deliverLocally(sent);
        c.empty(202);
    }

    /**
     * {@code POST .../move} {@code {"destinationId": folder id or well-known name}} → 201 and the message (MGDC
     * api-reference/v1.0/api/message-move.md). With immutable ids the id stays the same (concepts/outlook-immutable-id.md).
     */
    void move(Call c) throws IOException {
        GraphMessage m = find(c);
        if (m == null) {
            drainQuietly(c);
            return;
        }
        JsonNode body = c.jsonBodyOrAnswer();
        if (body == null) {
            return;
        }
        String destination = body.path("destinationId").asText("");
        String folderId = destination.isEmpty() ? null : c.mailbox.folderIdOrWellKnown(destination);
        if (folderId == null) {
            // (U) the code for an unknown destination.
            c.error(404, "ErrorItemNotFound", NOT_FOUND);
            return;
        }
        synchronized (c.mailbox) {
            m.folder(folderId, graph.now());
        }
        c.json(201, withContext(c, MessageJson.render(graph, m, null, false), "/messages/$entity"));
    }

    /**
     * {@code GET .../messages/{id}/$value} → 200 and the MIME, raw (MGDC api-reference/v1.0/api/message-get.md,
     * example 4 answers {@code Content-Type: text/plain}), streamed chunked from what the store holds.
     */
    void value(Call c) throws IOException {
        GraphMessage m = find(c);
        if (m == null) {
            return;
        }
        long dropAfter = graph.dropNextDownloadAfter.getAndSet(-1);
        c.exchange.getResponseHeaders().set("request-id", c.requestId);
        c.exchange.getResponseHeaders().set("client-request-id", c.clientRequestId);
        c.exchange.getResponseHeaders().set("Content-Type", "text/plain");
        c.commit(200);
        c.exchange.sendResponseHeaders(200, 0);
        OutputStream out = c.exchange.getResponseBody();
        long sent = 0;
        try (InputStream in = m.openMime()) {
            byte[] buf = new byte[16384];
            int n;
            while ((n = in.read(buf)) > 0) {
                if (dropAfter >= 0 && sent + n > dropAfter) {
                    out.write(buf, 0, (int) (dropAfter - sent));
                    out.flush();
                    throw new GraphDispatcher.Drop();
                }
                out.write(buf, 0, n);
                sent += n;
            }
        }
        out.close();
    }

    /**
     * {@code POST .../messages/{id}/attachments} with a {@code #microsoft.graph.fileAttachment} → 201 (MGDC
     * api-reference/v1.0/api/message-post-attachments.md: for files under 3 MB; the whole request is bound by the
     * 4 MB REST limit, hence 413 above it).
     */
    void addAttachment(Call c) throws IOException {
        GraphMessage m = find(c);
        if (m == null) {
            drainQuietly(c);
            return;
        }
        JsonNode body = c.jsonBodyOrAnswer();
        if (body == null) {
            return;
        }
        if (!"#microsoft.graph.fileAttachment".equals(body.path("@odata.type").asText())
                || !body.hasNonNull("name") || !body.hasNonNull("contentBytes")) {
            c.error(400, "ErrorInvalidRequest", "The request is invalid: a fileAttachment needs name and contentBytes.");
            return;
        }
        byte[] content;
        try {
            content = Base64.getDecoder().decode(body.get("contentBytes").asText());
        } catch (IllegalArgumentException e) {
            c.error(400, "ErrorInvalidRequest", "Invalid base64 string for contentBytes."); // (U) code
            return;
        }
        if (m.messageSize() + (content.length + 2L) / 3 * 4 > graph.maxMessageBytes) {
            c.error(400, "ErrorMessageSizeExceeded", sizeMessage());
            return;
        }
        StoredAttachment a = new StoredAttachment(graph.ids.attachment(), body.get("name").asText(),
                body.path("contentType").asText("application/octet-stream"), body.path("isInline").asBoolean(false),
                Optional.ofNullable(body.hasNonNull("contentId") ? body.get("contentId").asText() : null),
                content.length, sha256(content),
                content.length <= graph.keepAttachmentBytesUpTo ? Optional.of(content) : Optional.empty(), false);
        m.attachments.add(a);
        ObjectNode out = Call.JSON.createObjectNode();
        out.put("@odata.context", graph.baseUrl() + "/$metadata#users('" + c.mailboxName + "')/messages('"
                + m.id() + "')/attachments/$entity");
        out.put("@odata.type", "#microsoft.graph.fileAttachment");
        out.put("id", a.id());
        out.put("lastModifiedDateTime", Call.iso(graph.now()));
        out.put("name", a.name());
        out.put("contentType", a.contentType());
        out.put("size", a.size());
        out.put("isInline", a.inline());
        out.put("contentId", a.contentId().orElse(null));
        c.json(201, out);
    }

    // ------------------------------------------------------------------------------------------- helpers

    /** ErrorMessageSizeExceeded's text as observed (graph-evidence.md §3: motze92/office365-mail #39, (O)). */
    static String sizeMessage() {
        return "The message exceeds the maximum supported size., Cannot save changes made to an item to store.";
    }

    /**
     * Checks a message about to be sent: the tenant's size limit (400 ErrorMessageSizeExceeded, (O) status) and at
     * least one recipient (400 ErrorInvalidRecipients with the message SMTP2Graph #30 saw, (O)).
     */
    private boolean sendable(Call c, long size, int recipients) throws IOException {
        if (size > graph.maxMessageBytes) {
            c.error(400, "ErrorMessageSizeExceeded", sizeMessage());
            return false;
        }
        if (recipients == 0) {
            c.error(400, "ErrorInvalidRecipients",
                    "At least one recipient is not valid., A message can't be sent because it contains no recipients.");
            return false;
        }
        return true;
    }

    /** The MIME of a text/plain base64 body; null after answering with the error. */
    private byte[] mimeBody(Call c) throws IOException {
        String type = c.header("Content-Type");
        if (type == null || !type.toLowerCase(Locale.ROOT).startsWith("text/plain")) {
            drainQuietly(c);
            c.error(400, "ErrorInvalidRequest", "The fake Graph models MIME bodies only (Content-Type: text/plain).");
            return null;
        }
        byte[] body;
        try {
            body = c.body(graph.maxRequestBytes);
        } catch (Call.TooLarge e) {
            // MGDC user-post-messages.md names 413 Request Entity Too Large for payloads over 4 MB.
            c.tooLarge();
            return null;
        }
        byte[] mime = decodeBase64(body);
        if (mime == null || mime.length == 0) {
            c.error(400, "ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content.");
            return null;
        }
        return mime;
    }

    /** Base64 with line breaks between groups accepted ((U) whether Graph accepts them; clients should not send any). */
    static byte[] decodeBase64(byte[] body) {
        int n = 0;
        byte[] compact = new byte[body.length];
        for (byte b : body) {
            if (b != '\r' && b != '\n') {
                compact[n++] = b;
            }
        }
        try {
            return Base64.getDecoder().decode(java.util.Arrays.copyOf(compact, n));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static MimeHeaders headers(Call c, byte[] mime) throws IOException {
        try {
            return MimeHeaders.parse(mime);
        } catch (IllegalArgumentException e) {
            // concepts/outlook-send-mime-message.md: 400 for MIME that is malformed; the code is (U).
            c.error(400, "ErrorMimeContentInvalid", "The MIME content is invalid: " + e.getMessage());
            return null;
        }
    }

    private GraphMessage find(Call c) throws IOException {
        Optional<GraphMessage> m = c.mailbox.message(c.segments.get(1));
        if (m.isEmpty()) {
            c.error(404, "ErrorItemNotFound", NOT_FOUND);
            return null;
        }
        return m.get();
    }

    private ObjectNode withContext(Call c, ObjectNode message, String suffix) {
        ObjectNode out = Call.JSON.createObjectNode();
        out.put("@odata.context", graph.baseUrl() + "/$metadata#users('" + c.mailboxName + "')" + suffix);
        out.setAll(message);
        return out;
    }

    private void deliverLocally(SentMessage sent) {
        if (!graph.deliverLocally || sent.mime() == null) {
            return;
        }
        for (String r : sent.recipients()) {
            graph.existingMailbox(r).ifPresent(mb -> mb.deliver(sent.mime(), false, "inbox"));
        }
    }

    private static void drainQuietly(Call c) {
        try (InputStream in = c.exchange.getRequestBody()) {
            c.requestBytes += in.transferTo(OutputStream.nullOutputStream());
        } catch (IOException ignored) {
            // the answer does not depend on the body
        }
    }

    static byte[] sha256(byte[] content) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(content);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
