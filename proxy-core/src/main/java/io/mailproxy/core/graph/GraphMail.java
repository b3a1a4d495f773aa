package io.mailproxy.core.graph;

import io.mailproxy.core.config.AccountConfig;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * Microsoft Graph's mail API for the accounts whose upstream has a Graph endpoint ({@code /users/{mailbox}/...},
 * where {@code mailbox} is {@link AccountConfig#mailbox()}).
 *
 * <p>Threads: no method blocks its caller, and none may be called on an event loop expecting its future to complete
 * there: futures complete on the client's own threads, so a frontend hops back to its channel's loop. A future fails
 * with {@link GraphException} (wrapped in a {@link java.util.concurrent.CompletionException} where the JDK wraps),
 * whose {@link GraphException#kind()} says what the caller may do about it.
 *
 * <p>Message ids are Graph's immutable ids ({@code Prefer: IdType="ImmutableId"} on every request), so an id kept
 * in the spool or used as a POP3 UIDL survives a move between folders.
 */
public interface GraphMail {

    // ---- sending ----

    /**
     * {@code POST /users/{mailbox}/sendMail}, the MIME message base64-encoded as {@code text/plain}; completes on
     * {@code 202 Accepted}. Graph sends to the addresses in the message's To, Cc and Bcc headers. Saves to Sent Items
     * as the tenant does. The caller keeps the message within {@link #maxMimeRequestBytes()} (before base64).
     */
    CompletableFuture<Void> sendMime(AccountConfig account, MimeSource mime);

    /**
     * {@code POST /users/{mailbox}/messages} with the MIME message (base64, {@code text/plain}): a draft in Drafts;
     * completes with its immutable id on {@code 201 Created}.
     */
    CompletableFuture<String> createMimeDraft(AccountConfig account, MimeSource mime);

    /** {@code PATCH /users/{mailbox}/messages/{id}}: replaces the draft's toRecipients, ccRecipients and bccRecipients. */
    CompletableFuture<Void> setRecipients(AccountConfig account, String draftId, Recipients recipients);

    /**
     * Adds one attachment to a draft: {@code POST .../messages/{id}/attachments} with {@code contentBytes} when it is
     * small, else {@code POST .../attachments/createUploadSession} and {@code PUT}s of the upload URL in chunks (up to
     * 150 MB per attachment). Streams {@code upload.content()}; never holds it whole.
     */
    CompletableFuture<Void> addAttachment(AccountConfig account, String draftId, AttachmentUpload upload);

    /** {@code POST /users/{mailbox}/messages/{id}/send}: completes on {@code 202 Accepted}. */
    CompletableFuture<Void> sendDraft(AccountConfig account, String draftId);

    /** {@code GET /users/{mailbox}/messages/{id}} (a few properties); empty when Graph answers 404 (sent or deleted). */
    CompletableFuture<Optional<MessageInfo>> message(AccountConfig account, String id);

    /** {@code DELETE /users/{mailbox}/messages/{id}}: a soft delete (to Recoverable Items, not Deleted Items); 404 is success. */
    CompletableFuture<Void> delete(AccountConfig account, String id);

    /** The largest MIME message (before base64) that one {@code sendMail} or MIME-draft request may carry. */
    long maxMimeRequestBytes();

    // ---- reading (POP3 from a Graph folder) ----

    /**
     * One page of a folder's messages, oldest first ({@code GET /users/{mailbox}/mailFolders/{folder}/messages}),
     * drafts excluded. {@code folder}: a well-known name ({@code inbox}, {@code archive}) or a path of display names
     * separated by {@code /} as the client configured it. {@code next}: the previous page's
     * {@link MessagePage#next()}, empty for the first page.
     */
    CompletableFuture<MessagePage> list(AccountConfig account, String folder, boolean unreadOnly, Optional<String> next);

    /**
     * {@code GET /users/{mailbox}/messages/{id}/$value}: the message's MIME, streamed. Completes once Graph answered
     * {@code 200} with the publisher of the body (subscribe once; request buffers as the reader can take them: the
     * body is never read ahead of demand beyond a bounded buffer); fails with kind {@code NOT_FOUND} on 404. The body
     * holds one of the mailbox's request slots until it ends or its subscriber cancels: subscribe, or subscribe and
     * cancel. A body nobody subscribes to within the upstream's {@code reply-timeout} is cancelled; one that delivers
     * nothing asked for within it fails its subscriber with kind {@code UNAVAILABLE}.
     */
    CompletableFuture<Flow.Publisher<List<ByteBuffer>>> download(AccountConfig account, String id);

    /** {@code PATCH .../messages/{id}} with {@code isRead = true}. */
    CompletableFuture<Void> markRead(AccountConfig account, String id);

    /**
     * {@code POST .../messages/{id}/move} to {@code destination} (a well-known folder name such as
     * {@code deleteditems} or {@code archive}, or a path as in {@link #list}).
     */
    CompletableFuture<Void> move(AccountConfig account, String id, String destination);
}
