package io.mailproxy.smtp.graph;

import io.mailproxy.smtp.graph.LargeMessage.Unsplittable;
import io.mailproxy.smtp.graph.LargeMessage.Unsplittable.Reason;
import jakarta.mail.MessagingException;
import jakarta.mail.internet.ContentDisposition;
import jakarta.mail.internet.ContentType;
import jakarta.mail.internet.InternetHeaders;
import jakarta.mail.internet.ParseException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One MIME entity of the message as byte offsets into the file, found by following the boundaries (RFC 2046 §5.1.1)
 * line by line; the headers are parsed by Jakarta Mail's {@link InternetHeaders}, {@link ContentType} and
 * {@link ContentDisposition} (which decodes RFC 2231 parameters).
 *
 * <p>Why our own boundary scan rather than {@code MimeMultipart} over a {@code SharedFileInputStream}: the reduced
 * message is a byte-for-byte copy of ranges of the original, and Jakarta Mail does not expose a part's absolute
 * offset (a {@code SharedFileInputStream}'s position is relative to its own start). Only header blocks are read into
 * memory, each at most {@link #MAX_HEADER_BYTES}; content is only scanned for line starts.
 *
 * <p>Layout of a multipart entity: {@code [start, bodyStart)} its headers and the blank line, then the preamble, then
 * per child {@code [delimiter, child.start)} the delimiter line, the child, {@code [child.end, next delimiter)} the
 * line end that belongs to the next delimiter; then {@code [closeDelimiter, end)} the close delimiter and epilogue.
 */
final class LargeMessagePart {

    static final int MAX_HEADER_BYTES = 256 * 1024;
    static final int MAX_PARTS = 10_000;
    static final int MAX_DEPTH = 32;

    final long start;
    final long bodyStart;
    final long end;
    final InternetHeaders headers;
    /** Lower case {@code type/subtype}; {@code application/octet-stream} when the Content-Type does not parse. */
    final String baseType;
    final Optional<ContentType> contentType;
    /** Children of a multipart that was followed; empty for leaves. */
    final List<LargeMessagePart> children = new ArrayList<>();
    /** Offset of each child's delimiter line, parallel to {@link #children}. */
    final List<Long> delimiters = new ArrayList<>();
    /** Offset of the close delimiter line (multipart only), else -1. */
    long closeDelimiter = -1;
    String boundary;
    /** Whether the first delimiter line ends with CR LF (else LF): the style of any line we add. */
    boolean crlf = true;

    private LargeMessagePart(long start, long bodyStart, long end, InternetHeaders headers, String baseType,
                             Optional<ContentType> contentType) {
        this.start = start;
        this.bodyStart = bodyStart;
        this.end = end;
        this.headers = headers;
        this.baseType = baseType;
        this.contentType = contentType;
    }

    boolean isMultipart() {
        return closeDelimiter >= 0;
    }

    Optional<String> header(String name) {
        String value = headers.getHeader(name, null);
        return value == null ? Optional.empty() : Optional.of(value.trim());
    }

    /** The Content-Disposition's type in lower case ({@code attachment}, {@code inline}), empty when none or unparsable. */
    Optional<ContentDisposition> disposition() {
        return header("Content-Disposition").flatMap(value -> {
            try {
                return Optional.of(new ContentDisposition(value));
            } catch (ParseException e) {
                return Optional.empty();
            }
        });
    }

    /** The transfer encoding in lower case, {@code 7bit} when absent. */
    String transferEncoding() {
        return header("Content-Transfer-Encoding").map(v -> v.toLowerCase(Locale.ROOT)).orElse("7bit");
    }

    static boolean isSignedOrEncrypted(String baseType) {
        return baseType.equals("multipart/signed") || baseType.equals("multipart/encrypted")
                || baseType.equals("application/pkcs7-mime") || baseType.equals("application/x-pkcs7-mime");
    }

    /** Parses the whole file as one message. */
    static LargeMessagePart parse(LargeMessageFile file) throws IOException, Unsplittable {
        return new Parser(file).parse(0, file.size(), "text/plain", 0);
    }

    private static final class Parser {
        private final LargeMessageFile file;
        private int parts;

        Parser(LargeMessageFile file) {
            this.file = file;
        }

        LargeMessagePart parse(long start, long end, String defaultType, int depth) throws IOException, Unsplittable {
            if (++parts > MAX_PARTS) {
                throw new Unsplittable(Reason.MALFORMED, "more than " + MAX_PARTS + " MIME parts");
            }
            // the header block ends at the first empty line (RFC 5322 §2.1); no empty line: all headers, no body
            long headerEnd = end;
            long bodyStart = end;
            for (long line = start; line < end; ) {
                long next = file.nextLine(line, end);
                if (contentEnd(line, next) == line && next > line) {
                    headerEnd = line;
                    bodyStart = next;
                    break;
                }
                if (next - start > MAX_HEADER_BYTES) {
                    throw new Unsplittable(Reason.MALFORMED, "a header block over " + MAX_HEADER_BYTES + " bytes at byte " + start);
                }
                line = next;
            }
            InternetHeaders headers;
            try (InputStream in = file.range(start, headerEnd)) {
                headers = new InternetHeaders(in, true);
            } catch (MessagingException e) {
                throw new Unsplittable(Reason.MALFORMED, "unreadable headers at byte " + start + ": " + e.getMessage());
            }
            String value = headers.getHeader("Content-Type", null);
            Optional<ContentType> type;
            String baseType;
            if (value == null) {
                type = Optional.empty();
                baseType = defaultType;
            } else {
                try {
                    type = Optional.of(new ContentType(value));
                    baseType = type.get().getBaseType().toLowerCase(Locale.ROOT);
                } catch (ParseException e) {
                    type = Optional.empty();
                    baseType = "application/octet-stream";
                }
            }
            LargeMessagePart part = new LargeMessagePart(start, bodyStart, end, headers, baseType, type);
            // signed and encrypted multiparts are kept whole: taking anything out of them breaks them
            if (baseType.startsWith("multipart/") && !isSignedOrEncrypted(baseType) && type.isPresent()) {
                if (depth >= MAX_DEPTH) {
                    throw new Unsplittable(Reason.MALFORMED, "multiparts nested more than " + MAX_DEPTH + " deep");
                }
                String boundary = type.get().getParameter("boundary");
                if (boundary == null || boundary.isEmpty()) {
                    throw new Unsplittable(Reason.MALFORMED, baseType + " without a boundary at byte " + start);
                }
                part.boundary = boundary;
                children(part, boundary.getBytes(StandardCharsets.ISO_8859_1),
                        baseType.equals("multipart/digest") ? "message/rfc822" : "text/plain", depth);
            }
            return part;
        }

        private void children(LargeMessagePart part, byte[] boundary, String defaultType, int depth)
                throws IOException, Unsplittable {
            long childStart = -1;
            for (long line = part.bodyStart; line < part.end; ) {
                long next = file.nextLine(line, part.end);
                int delimiter = delimiter(line, contentEnd(line, next), boundary);
                if (delimiter != 0) {
                    if (childStart >= 0) {
                        long childEnd = Math.max(childStart, line - lineEndBefore(line, childStart));
                        part.children.add(parse(childStart, childEnd, defaultType, depth + 1));
                    }
                    if (delimiter == 2) {
                        part.closeDelimiter = line;
                        break;
                    }
                    if (part.delimiters.isEmpty()) {
                        part.crlf = next - 2 >= line && file.byteAt(next - 1) == '\n' && file.byteAt(next - 2) == '\r';
                    }
                    part.delimiters.add(line);
                    childStart = next;
                }
                line = next;
            }
            if (part.closeDelimiter < 0) {
                throw new Unsplittable(Reason.MALFORMED, part.baseType + " at byte " + part.start
                        + " has no closing boundary (--" + part.boundary + "--)");
            }
            if (part.children.isEmpty()) {
                throw new Unsplittable(Reason.MALFORMED, part.baseType + " at byte " + part.start + " has no parts");
            }
        }

        /** 0: not a delimiter line; 1: {@code --boundary}; 2: {@code --boundary--}; trailing blanks allowed. */
        private int delimiter(long line, long contentEnd, byte[] boundary) throws IOException {
            if (contentEnd - line < boundary.length + 2 || file.byteAt(line) != '-' || file.byteAt(line + 1) != '-') {
                return 0;
            }
            for (int i = 0; i < boundary.length; i++) {
                if (file.byteAt(line + 2 + i) != (boundary[i] & 0xff)) {
                    return 0;
                }
            }
            long p = line + 2 + boundary.length;
            int kind = 1;
            if (contentEnd - p >= 2 && file.byteAt(p) == '-' && file.byteAt(p + 1) == '-') {
                kind = 2;
                p += 2;
            }
            for (; p < contentEnd; p++) {
                int b = file.byteAt(p);
                if (b != ' ' && b != '\t') {
                    return 0;
                }
            }
            return kind;
        }

        /** Where the line [line, next) ends without its CR LF or LF. */
        private long contentEnd(long line, long next) throws IOException {
            long e = next;
            if (e > line && file.byteAt(e - 1) == '\n') {
                e--;
                if (e > line && file.byteAt(e - 1) == '\r') {
                    e--;
                }
            }
            return e;
        }

        /** Length of the line end just before {@code line} (CR LF or LF), not reaching before {@code floor}. */
        private int lineEndBefore(long line, long floor) throws IOException {
            if (line - 1 < floor || file.byteAt(line - 1) != '\n') {
                return 0;
            }
            return line - 2 >= floor && file.byteAt(line - 2) == '\r' ? 2 : 1;
        }
    }
}
