package io.mailproxy.core.imap;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.CorruptedFrameException;
import io.netty.handler.codec.TooLongFrameException;
import java.util.List;

/**
 * Splits an IMAP server's byte stream into {@link ImapResponseLine} segments and {@link ImapLiteralChunk}s
 * (RFC 3501 section 7, RFC 7888 literal syntax, RFC 3516 {@code ~{n}}), without ever holding a literal whole.
 *
 * <p>A line segment longer than {@code maxLineLength} (CRLF included) fails the decoder with a
 * {@link TooLongFrameException}; it then discards everything and the channel should be closed. A literal may be of
 * any length: its bytes are passed on as they arrive. Lines may end in CRLF or (leniently) a bare LF.
 */
public final class ImapResponseDecoder extends ByteToMessageDecoder {

    /** Longest line segment accepted by default: ample for capability lists, FETCH envelopes and BODYSTRUCTUREs. */
    public static final int DEFAULT_MAX_LINE_LENGTH = 256 * 1024;

    private static final int MAX_LITERAL_DIGITS = 18;

    private final int maxLineLength;

    /** Bytes of the current literal still to come; -1 outside a literal. */
    private long literalRemaining = -1;
    /** Where the search for LF resumes, relative to the reader index. */
    private int scanned;
    /** True between a segment announcing a literal and the segment that ends the response. */
    private boolean inResponse;
    private ImapResponseLine.Kind kind;
    private String tag;
    private ImapStatus status;
    private boolean failed;

    public ImapResponseDecoder() {
        this(DEFAULT_MAX_LINE_LENGTH);
    }

    public ImapResponseDecoder(int maxLineLength) {
        if (maxLineLength < 16) {
            throw new IllegalArgumentException("maxLineLength must be at least 16: " + maxLineLength);
        }
        this.maxLineLength = maxLineLength;
    }

    /** True while the decoder is inside a response (between a literal announcement and the response's last line). */
    public boolean inResponse() {
        return inResponse;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (failed) {
            in.skipBytes(in.readableBytes());
            return;
        }
        while (in.isReadable()) {
            if (literalRemaining > 0) {
                int n = (int) Math.min(in.readableBytes(), literalRemaining);
                literalRemaining -= n;
                out.add(new ImapLiteralChunk(in.readRetainedSlice(n), literalRemaining == 0));
                if (literalRemaining == 0) {
                    literalRemaining = -1;
                }
                continue;
            }
            int start = in.readerIndex();
            int lf = in.indexOf(start + scanned, in.writerIndex(), (byte) '\n');
            if (lf < 0) {
                scanned = in.readableBytes();
                if (scanned > maxLineLength) {
                    fail(in, new TooLongFrameException("IMAP response line longer than " + maxLineLength + " bytes"));
                }
                return;
            }
            scanned = 0;
            int length = lf - start + 1;
            if (length > maxLineLength) {
                fail(in, new TooLongFrameException("IMAP response line longer than " + maxLineLength + " bytes"));
                return;
            }
            int end = lf > start && in.getByte(lf - 1) == '\r' ? lf - 1 : lf; // exclusive end of the text
            boolean first = !inResponse;
            if (first) {
                if (!parseStart(in, start, end)) {
                    fail(in, new CorruptedFrameException("IMAP response line without a tag"));
                    return;
                }
            }
            // a continuation's and a status response's text (OK/NO/BAD/BYE/PREAUTH) is resp-text: a "{n}" at its
            // end is text, not a literal (RFC 3501 section 9)
            long literal = kind == ImapResponseLine.Kind.CONTINUATION || status != null ? -1
                    : literalAnnouncement(in, start, end);
            if (literal == -2) {
                fail(in, new CorruptedFrameException("IMAP literal length out of range"));
                return;
            }
            out.add(new ImapResponseLine(kind, tag, status, first, literal, in.readRetainedSlice(length)));
            inResponse = literal >= 0;
            literalRemaining = literal > 0 ? literal : -1;
        }
    }

    /** Reads tag, kind and status from the first segment of a response. */
    private boolean parseStart(ByteBuf in, int start, int end) {
        int sp = in.indexOf(start, end, (byte) ' ');
        int tagEnd = sp < 0 ? end : sp;
        if (tagEnd == start) {
            return false;
        }
        String first = in.toString(start, tagEnd - start, java.nio.charset.StandardCharsets.US_ASCII);
        if (first.equals("+")) {
            kind = ImapResponseLine.Kind.CONTINUATION;
            tag = "+";
            status = null;
            return true;
        }
        kind = first.equals("*") ? ImapResponseLine.Kind.UNTAGGED : ImapResponseLine.Kind.TAGGED;
        tag = first;
        status = null;
        if (sp >= 0) {
            int wordEnd = in.indexOf(sp + 1, end, (byte) ' ');
            if (wordEnd < 0) {
                wordEnd = end;
            }
            if (wordEnd - sp - 1 <= 7) {
                status = ImapStatus.parse(in.toString(sp + 1, wordEnd - sp - 1, java.nio.charset.StandardCharsets.US_ASCII));
            }
        }
        return true;
    }

    /**
     * The literal length announced at the end of {@code [start, end)} ({@code {n}}, {@code {n+}}), -1 when none,
     * -2 when the number is out of range.
     */
    static long literalAnnouncement(ByteBuf buf, int start, int end) {
        if (end - start < 3 || buf.getByte(end - 1) != '}') {
            return -1;
        }
        int i = end - 2;
        if (buf.getByte(i) == '+') {
            i--;
        }
        int digitsEnd = i + 1;
        while (i >= start && buf.getByte(i) >= '0' && buf.getByte(i) <= '9') {
            i--;
        }
        int digits = digitsEnd - (i + 1);
        if (i < start || buf.getByte(i) != '{' || digits == 0) {
            return -1;
        }
        if (digits > MAX_LITERAL_DIGITS) {
            return -2;
        }
        long n = 0;
        for (int j = i + 1; j < digitsEnd; j++) {
            n = n * 10 + (buf.getByte(j) - '0');
        }
        return n;
    }

    private void fail(ByteBuf in, RuntimeException e) {
        failed = true;
        in.skipBytes(in.readableBytes());
        throw e;
    }
}
