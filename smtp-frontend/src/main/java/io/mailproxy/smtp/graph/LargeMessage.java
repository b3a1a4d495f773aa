package io.mailproxy.smtp.graph;

import io.mailproxy.core.graph.AttachmentUpload;
import io.mailproxy.core.graph.MimeSource;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * A MIME message too big for one Graph request, split so that it can be sent as a MIME draft of the
 * {@linkplain #reduced() reduced message} (the original with its big attachment parts taken out), plus each
 * {@linkplain #attachments() taken-out part} added to the draft as an attachment, then sent.
 *
 * <p>Why: Graph takes at most about 4 MB per request, measured on the base64 body, so about 3 MB of MIME
 * ({@code GraphMail.maxMimeRequestBytes()}; docs/research/graph-evidence.md §3, microsoft-graph-docs-contrib
 * {@code api-reference/v1.0/api/user-post-messages.md}); an attachment goes through an upload session up to 150 MB
 * ({@code api-reference/v1.0/api/attachment-createuploadsession.md}, {@code concepts/outlook-large-attachments.md}).
 *
 * <p>Use (on a blocking thread, never an event loop: it reads the file):
 * <pre>{@code
 * try (LargeMessage split = LargeMessage.split(spoolFile, graph.maxMimeRequestBytes(), tmpDir)) {
 *     String draft = graph.createMimeDraft(account, split.reduced()).join();
 *     for (AttachmentUpload a : split.attachments()) graph.addAttachment(account, draft, a).join();
 *     graph.sendDraft(account, draft).join();
 * }   // deletes the reduced message's temporary file
 * }</pre>
 *
 * <p>Contract:
 * <ul>
 *   <li>{@link #reduced()}: every header of the original kept byte for byte (Message-ID, Date, References,
 *       In-Reply-To, custom headers), the multipart structure kept, the taken-out parts removed with their boundary
 *       lines (a multipart left with nothing but its body stays well-formed). At most {@code maxRequestBytes}. A
 *       temporary file in {@code workDir}, deleted by {@link #close()}.
 *   <li>{@link #attachments()}: largest first, each part's decoded bytes (base64 and quoted-printable undone); its
 *       name decoded (RFC 2231, encoded words), base Content-Type (e.g. {@code image/png}), inline flag, and Content-ID
 *       without its angle brackets (what an HTML body's {@code cid:} URL names). Their sizes are exact.
 *       Any size from a few bytes up: {@code GraphMail.addAttachment} chooses between a plain POST and an upload
 *       session (whose minimum is 3 MB).
 *   <li>Streams are opened on the original file, which stays open until {@link #close()} (so the spool may rename or
 *       unlink it meanwhile); {@link MimeSource#open()} may be called again (a retry) and from any thread.
 *   <li>When the message already fits, {@link #attachments()} is empty and {@link #reduced()} is the original.
 * </ul>
 *
 * @see Unsplittable for what cannot be split
 */
public final class LargeMessage implements AutoCloseable {

    /**
     * Graph's largest attachment through an upload session: "up to 150 MB" (microsoft-graph-docs-contrib
     * {@code concepts/outlook-large-attachments.md}); taken as MiB, Exchange's unit for its size limits (U: Microsoft
     * does not say which).
     */
    public static final long MAX_ATTACHMENT_BYTES = 150L * 1024 * 1024;

    private final MimeSource reduced;
    private final List<AttachmentUpload> attachments;
    private final AutoCloseable resources;

    LargeMessage(MimeSource reduced, List<AttachmentUpload> attachments, AutoCloseable resources) {
        this.reduced = Objects.requireNonNull(reduced);
        this.attachments = List.copyOf(attachments);
        this.resources = Objects.requireNonNull(resources);
    }

    /**
     * Splits {@code message} so that its reduced form is at most {@code maxRequestBytes}. Blocking file I/O.
     *
     * @param message the whole MIME message (headers and body), CRLF or LF line ends
     * @param maxRequestBytes the largest MIME a single request may carry (before base64)
     * @param workDir where the reduced message's temporary file goes
     * @throws Unsplittable when the message cannot be sent this way (see {@link Unsplittable.Reason})
     * @throws IOException when the files cannot be read or written
     */
    public static LargeMessage split(Path message, long maxRequestBytes, Path workDir) throws IOException, Unsplittable {
        return LargeMessageSplitter.split(message, maxRequestBytes, workDir, MAX_ATTACHMENT_BYTES);
    }

    /** The message with the taken-out parts removed, at most {@code maxRequestBytes}: the MIME of the draft. */
    public MimeSource reduced() {
        return reduced;
    }

    /** The taken-out parts, largest first, to add to the draft. */
    public List<AttachmentUpload> attachments() {
        return attachments;
    }

    /** Closes the original file and deletes the temporary files. */
    @Override
    public void close() throws IOException {
        try {
            resources.close();
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    /** The message cannot be sent as a draft plus attachments; {@link #getMessage()} says why in words. */
    public static final class Unsplittable extends Exception {

        private static final long serialVersionUID = 1L;

        /** Why; each is permanent for this message. */
        public enum Reason {
            /** Top-level multipart/signed, multipart/encrypted or (x-)pkcs7-mime: a rebuilt MIME breaks it. */
            SIGNED_OR_ENCRYPTED,
            /** Even with every attachment taken out the message is over the request limit (a huge body, or a huge part that is not an attachment). */
            TOO_BIG_WITHOUT_ATTACHMENTS,
            /** One attachment is over {@link #MAX_ATTACHMENT_BYTES} decoded. */
            ATTACHMENT_TOO_BIG,
            /** The MIME structure cannot be followed (no boundary, no closing boundary, undecodable attachment). */
            MALFORMED
        }

        private final Reason reason;

        public Unsplittable(Reason reason, String message) {
            super(message);
            this.reason = Objects.requireNonNull(reason);
        }

        public Reason reason() {
            return reason;
        }
    }
}
