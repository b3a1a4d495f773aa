package io.mailproxy.smtp.graph;

import io.mailproxy.core.graph.AttachmentUpload;
import io.mailproxy.core.graph.MimeSource;
import io.mailproxy.smtp.graph.LargeMessage.Unsplittable;
import io.mailproxy.smtp.graph.LargeMessage.Unsplittable.Reason;
import jakarta.mail.MessagingException;
import jakarta.mail.internet.ContentDisposition;
import jakarta.mail.internet.MimeUtility;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UnsupportedEncodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.eclipse.angus.mail.util.DecodingException;

/**
 * Chooses the parts to take out (attachments and non-text inline parts, largest first, until the rest fits), writes
 * the reduced message as byte ranges of the original, and serves each taken-out part decoded.
 */
final class LargeMessageSplitter {

    private static final Set<String> DECODABLE = Set.of("7bit", "8bit", "binary", "base64", "quoted-printable",
            "uuencode", "x-uuencode", "x-uue");

    private LargeMessageSplitter() { }

    static LargeMessage split(Path message, long maxRequestBytes, Path workDir, long maxAttachmentBytes)
            throws IOException, Unsplittable {
        if (maxRequestBytes <= 0) {
            throw new IllegalArgumentException("maxRequestBytes must be positive: " + maxRequestBytes);
        }
        LargeMessageFile file = new LargeMessageFile(message);
        try {
            LargeMessage split = split(file, maxRequestBytes, workDir, maxAttachmentBytes);
            file = null; // the split owns it now
            return split;
        } finally {
            if (file != null) {
                file.close();
            }
        }
    }

    private static LargeMessage split(LargeMessageFile file, long maxRequestBytes, Path workDir, long maxAttachmentBytes)
            throws IOException, Unsplittable {
        LargeMessagePart root = LargeMessagePart.parse(file);
        if (LargeMessagePart.isSignedOrEncrypted(root.baseType)) {
            throw new Unsplittable(Reason.SIGNED_OR_ENCRYPTED, "a " + root.baseType
                    + " message cannot be rebuilt without breaking its signature or encryption");
        }
        if (file.size() <= maxRequestBytes) {
            return new LargeMessage(new RangeSource(file, 0, file.size(), null), List.of(), file);
        }
        List<LargeMessagePart> candidates = new ArrayList<>();
        collect(root, true, candidates);
        candidates.sort(Comparator.comparingLong((LargeMessagePart p) -> p.end - p.start).reversed());

        Set<LargeMessagePart> out = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        Layout layout = Layout.of(root, out);
        for (LargeMessagePart candidate : candidates) {
            if (layout.size() <= maxRequestBytes) {
                break;
            }
            out.add(candidate);
            layout = Layout.of(root, out);
        }
        if (layout.size() > maxRequestBytes) {
            throw new Unsplittable(Reason.TOO_BIG_WITHOUT_ATTACHMENTS, "the message is " + layout.size()
                    + " bytes even without its " + candidates.size() + " attachment(s), over the " + maxRequestBytes
                    + " bytes one Graph request may carry (a large body, or a large part that is not an attachment)");
        }

        List<AttachmentUpload> uploads = new ArrayList<>();
        int index = 0;
        for (LargeMessagePart part : candidates) {
            if (out.contains(part)) {
                uploads.add(upload(file, part, ++index, maxAttachmentBytes));
            }
        }

        Path reduced = Files.createTempFile(workDir, "graph-reduced-", ".eml");
        try {
            try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(reduced), LargeMessageFile.BUFFER)) {
                layout.writeTo(file, o);
            }
            long reducedSize = layout.size();
            MimeSource reducedSource = new MimeSource() {
                @Override
                public long size() {
                    return reducedSize;
                }

                @Override
                public InputStream open() throws IOException {
                    return Files.newInputStream(reduced);
                }
            };
            LargeMessageFile original = file;
            return new LargeMessage(reducedSource, uploads, () -> {
                try {
                    original.close();
                } finally {
                    Files.deleteIfExists(reduced);
                }
            });
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(reduced);
            throw e;
        }
    }

    /** Leaves that may be taken out: attachments, and inline parts other than the text/plain or text/html body. */
    private static void collect(LargeMessagePart part, boolean root, List<LargeMessagePart> into) {
        if (part.isMultipart()) {
            for (LargeMessagePart child : part.children) {
                collect(child, false, into);
            }
            return;
        }
        if (root || part.contentType.isEmpty() || !DECODABLE.contains(part.transferEncoding())
                || part.baseType.startsWith("multipart/")) {
            return; // the body itself, an unparsable type, an unknown encoding, a signed or encrypted multipart
        }
        boolean attachment = part.disposition()
                .map(d -> "attachment".equalsIgnoreCase(d.getDisposition())).orElse(false);
        boolean textBody = part.baseType.equals("text/plain") || part.baseType.equals("text/html");
        if (attachment || !textBody) {
            into.add(part);
        }
    }

    private static AttachmentUpload upload(LargeMessageFile file, LargeMessagePart part, int index,
                                           long maxAttachmentBytes) throws IOException, Unsplittable {
        Optional<ContentDisposition> disposition = part.disposition();
        String name = disposition.map(d -> d.getParameter("filename"))
                .or(() -> part.contentType.map(t -> t.getParameter("name")))
                .map(LargeMessageSplitter::decodeWords)
                .filter(n -> !n.isBlank())
                .orElse("attachment-" + index + (part.baseType.equals("message/rfc822") ? ".eml" : ""));
        Optional<String> contentId = part.header("Content-ID").map(LargeMessageSplitter::unbracket)
                .filter(id -> !id.isEmpty());
        boolean inline = disposition.map(d -> "inline".equalsIgnoreCase(d.getDisposition()))
                .orElse(contentId.isPresent());
        RangeSource content = new RangeSource(file, part.bodyStart, part.end, part.transferEncoding());
        long size = content.count(maxAttachmentBytes, name);
        content.size = size;
        return new AttachmentUpload(name, part.baseType, inline, contentId, content);
    }

    private static String decodeWords(String text) {
        try {
            return MimeUtility.decodeText(text);
        } catch (UnsupportedEncodingException e) {
            return text;
        }
    }

    private static String unbracket(String id) {
        String s = id.trim();
        if (s.startsWith("<") && s.endsWith(">") && s.length() >= 2) {
            s = s.substring(1, s.length() - 1).trim();
        }
        return s;
    }

    /** Bytes {@code [start, end)} of the original, decoded from {@code encoding} when it is not null. */
    private static final class RangeSource implements MimeSource {
        private final LargeMessageFile file;
        private final long start;
        private final long end;
        private final String encoding;
        long size;

        RangeSource(LargeMessageFile file, long start, long end, String encoding) {
            this.file = file;
            this.start = start;
            this.end = end;
            this.encoding = encoding;
            this.size = end - start;
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public InputStream open() throws IOException {
            InputStream raw = file.range(start, end);
            if (encoding == null) {
                return raw;
            }
            try {
                return MimeUtility.decode(raw, encoding);
            } catch (MessagingException e) {
                raw.close();
                throw new IOException("cannot decode " + encoding, e);
            }
        }

        /** The decoded length, by decoding once (streaming); stops once over {@code limit}. */
        long count(long limit, String name) throws IOException, Unsplittable {
            byte[] buffer = new byte[LargeMessageFile.BUFFER];
            long total = 0;
            try (InputStream in = open()) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    total += n;
                    if (total > limit) {
                        throw new Unsplittable(Reason.ATTACHMENT_TOO_BIG, "attachment '" + name + "' is over the "
                                + limit + " bytes Graph takes in one upload session");
                    }
                }
            } catch (DecodingException e) {
                throw new Unsplittable(Reason.MALFORMED, "attachment '" + name + "' does not decode as " + encoding
                        + ": " + e.getMessage());
            }
            return total;
        }
    }

    /** The reduced message: ranges of the original and, rarely, a few bytes of our own. */
    private static final class Layout {
        private final List<Object> pieces = new ArrayList<>(); // long[]{start, end} or byte[]
        private long size;

        static Layout of(LargeMessagePart root, Set<LargeMessagePart> out) {
            Layout layout = new Layout();
            layout.add(root, out);
            return layout;
        }

        long size() {
            return size;
        }

        /** True when nothing of {@code part} stays: taken out, or a multipart whose every child is gone. */
        private static boolean gone(LargeMessagePart part, Set<LargeMessagePart> out) {
            if (out.contains(part)) {
                return true;
            }
            if (!part.isMultipart()) {
                return false;
            }
            for (LargeMessagePart child : part.children) {
                if (!gone(child, out)) {
                    return false;
                }
            }
            return true;
        }

        private void add(LargeMessagePart part, Set<LargeMessagePart> out) {
            if (!part.isMultipart()) {
                range(part.start, part.end);
                return;
            }
            range(part.start, part.delimiters.get(0)); // headers, blank line, preamble
            boolean any = false;
            for (int i = 0; i < part.children.size(); i++) {
                LargeMessagePart child = part.children.get(i);
                if (gone(child, out)) {
                    continue;
                }
                any = true;
                long next = i + 1 < part.delimiters.size() ? part.delimiters.get(i + 1) : part.closeDelimiter;
                range(part.delimiters.get(i), child.start); // delimiter line
                add(child, out);
                range(child.end, next); // the line end that belongs to the next delimiter
            }
            if (!any) {
                // every part of the top-level multipart was an attachment: an empty text part keeps it well-formed
                String eol = part.crlf ? "\r\n" : "\n";
                bytes(("--" + part.boundary + eol + "Content-Type: text/plain; charset=us-ascii" + eol + eol + eol)
                        .getBytes(StandardCharsets.US_ASCII));
            }
            range(part.closeDelimiter, part.end); // close delimiter and epilogue
        }

        private void range(long start, long end) {
            if (end <= start) {
                return;
            }
            if (!pieces.isEmpty() && pieces.get(pieces.size() - 1) instanceof long[] last && last[1] == start) {
                last[1] = end;
            } else {
                pieces.add(new long[] {start, end});
            }
            size += end - start;
        }

        private void bytes(byte[] b) {
            pieces.add(b);
            size += b.length;
        }

        void writeTo(LargeMessageFile file, OutputStream out) throws IOException {
            for (Object piece : pieces) {
                if (piece instanceof long[] r) {
                    file.copy(r[0], r[1], out);
                } else {
                    out.write((byte[]) piece);
                }
            }
        }
    }
}
