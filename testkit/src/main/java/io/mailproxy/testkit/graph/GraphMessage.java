package io.mailproxy.testkit.graph;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One message in a fake mailbox: its MIME (bytes, or a file for big ones so that a test need not hold them), the
 * properties Graph shows, and a draft's recipient table and attachments. Its id is immutable (survives moves, as
 * {@code Prefer: IdType="ImmutableId"} promises: MGDC concepts/outlook-immutable-id.md).
 */
public final class GraphMessage {
    private final String id;
    private final byte[] mime;
    private final Path file;
    private final long length;
    private final Instant received;
    private final long sequence;
    private final MimeHeaders headers;
    private volatile String folderId;
    private volatile boolean read;
    private volatile boolean draft;
    private volatile long sizeEstimate;
    private volatile Instant modified;
    private volatile List<EmailAddress> to;
    private volatile List<EmailAddress> cc;
    private volatile List<EmailAddress> bcc;
    private volatile String subject;
    final List<StoredAttachment> attachments = new java.util.concurrent.CopyOnWriteArrayList<>();

    GraphMessage(String id, byte[] mime, Path file, MimeHeaders headers, String folderId, boolean read, boolean draft,
                 Instant received, long sequence) {
        this.id = id;
        this.mime = mime;
        this.file = file;
        try {
            this.length = mime != null ? mime.length : Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.headers = headers;
        this.folderId = folderId;
        this.read = read;
        this.draft = draft;
        this.received = received;
        this.modified = received;
        this.sequence = sequence;
        this.to = List.copyOf(headers.to());
        this.cc = List.copyOf(headers.cc());
        this.bcc = List.copyOf(headers.bcc());
        this.subject = headers.subject();
        this.sizeEstimate = estimate(length);
    }

    /**
     * A stand-in for PidTagMessageSize: Exchange's size of the stored item, not the length of {@code $value} (MGDC
     * concepts/outlook-get-mime-message.md: "Outlook does not save messages in MIME format", the MIME is regenerated).
     * How far the two differ is (U); the fake's estimate differs on purpose, larger for small messages and smaller
     * for large ones, so that nobody relies on it being the MIME length.
     */
    static long estimate(long mimeLength) {
        return mimeLength - mimeLength / 8 + 1536;
    }

    public String id() {
        return id;
    }

    /** The MIME message: the bytes as posted or delivered. */
    public byte[] mime() {
        if (mime != null) {
            return mime.clone();
        }
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    InputStream openMime() throws IOException {
        return mime != null ? new ByteArrayInputStream(mime) : Files.newInputStream(file);
    }

    byte[] mimeBytesOrNull() {
        return mime;
    }

    public long mimeLength() {
        return length;
    }

    /** The size Graph reports in {@code singleValueExtendedProperties} {@code Integer 0x0E08}. */
    public long sizeEstimate() {
        return sizeEstimate;
    }

    /** Sets the size Graph reports for this message (by default an estimate that is not the MIME length). */
    public GraphMessage sizeEstimate(long size) {
        this.sizeEstimate = size;
        return this;
    }

    public boolean read() {
        return read;
    }

    public boolean draft() {
        return draft;
    }

    public Instant received() {
        return received;
    }

    public String subject() {
        return subject;
    }

    /** The id of the folder it is in. */
    public String folderId() {
        return folderId;
    }

    /** The recipient table: To addresses (for a draft, after any PATCH). */
    public List<String> to() {
        return to.stream().map(EmailAddress::address).toList();
    }

    public List<String> cc() {
        return cc.stream().map(EmailAddress::address).toList();
    }

    public List<String> bcc() {
        return bcc.stream().map(EmailAddress::address).toList();
    }

    public List<StoredAttachment> attachments() {
        return List.copyOf(attachments);
    }

    // ---- package-private state changes (the mailbox's lock is held) ----

    long sequence() {
        return sequence;
    }

    MimeHeaders headers() {
        return headers;
    }

    List<EmailAddress> toRecipients() {
        return to;
    }

    List<EmailAddress> ccRecipients() {
        return cc;
    }

    List<EmailAddress> bccRecipients() {
        return bcc;
    }

    Instant modified() {
        return modified;
    }

    void recipients(Optional<List<EmailAddress>> newTo, Optional<List<EmailAddress>> newCc,
                    Optional<List<EmailAddress>> newBcc, Instant now) {
        newTo.ifPresent(l -> to = List.copyOf(l));
        newCc.ifPresent(l -> cc = List.copyOf(l));
        newBcc.ifPresent(l -> bcc = List.copyOf(l));
        modified = now;
    }

    void subject(String s, Instant now) {
        subject = s;
        modified = now;
    }

    void read(boolean r, Instant now) {
        read = r;
        modified = now;
    }

    void folder(String id, Instant now) {
        folderId = id;
        modified = now;
    }

    void sent() {
        draft = false;
    }

    /** The size Graph counts against the tenant's limit: the MIME plus each attachment base64-encoded (O). */
    long messageSize() {
        long total = length;
        for (StoredAttachment a : attachments) {
            total += (a.size() + 2) / 3 * 4;
        }
        return total;
    }

    List<EmailAddress> allRecipients() {
        List<EmailAddress> all = new ArrayList<>(to);
        all.addAll(cc);
        all.addAll(bcc);
        return all;
    }

    @Override
    public String toString() {
        return "GraphMessage[" + subject + ", " + length + " bytes, folder " + folderId + (draft ? ", draft" : "") + "]";
    }
}
