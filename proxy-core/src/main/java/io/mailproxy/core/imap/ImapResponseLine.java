package io.mailproxy.core.imap;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import java.nio.charset.StandardCharsets;

/**
 * One line segment of an IMAP response, exactly as received: up to and including the CRLF, or up to and including
 * the CRLF after a literal announcement ({@code {n}} or {@code {n+}}). {@link #content()} holds those bytes; whoever
 * consumes this message last releases it.
 *
 * <p>A response is a first segment, then for each announced literal its {@link ImapLiteralChunk}s and one more
 * segment, and it ends with the segment for which {@link #endsResponse()} is true.
 */
public final class ImapResponseLine extends DefaultByteBufHolder {

    /** What kind of response the segment belongs to. */
    public enum Kind {
        /** {@code tag OK|NO|BAD ...}: completes a command. */
        TAGGED,
        /** {@code * ...}: data or status not completing a command. */
        UNTAGGED,
        /** {@code + ...}: the server is ready for more of the command (literal, SASL, IDLE). */
        CONTINUATION
    }

    private final Kind kind;
    private final String tag;
    private final ImapStatus status;
    private final boolean first;
    private final long literalLength;

    public ImapResponseLine(Kind kind, String tag, ImapStatus status, boolean first, long literalLength, ByteBuf content) {
        super(content);
        this.kind = kind;
        this.tag = tag;
        this.status = status;
        this.first = first;
        this.literalLength = literalLength;
    }

    public Kind kind() {
        return kind;
    }

    /** The tag of a TAGGED response (in every segment of it); {@code "*"} or {@code "+"} otherwise. */
    public String tag() {
        return tag;
    }

    /** OK, NO, BAD, BYE or PREAUTH when the response starts with one (in every segment of it); null otherwise. */
    public ImapStatus status() {
        return status;
    }

    /** True for the first segment of a response. */
    public boolean isFirst() {
        return first;
    }

    /** The length of the literal announced at the end of this segment, or -1 when it ends the response. */
    public long literalLength() {
        return literalLength;
    }

    /** True when this segment ends with CRLF and announces no literal: the response is complete. */
    public boolean endsResponse() {
        return literalLength < 0;
    }

    /** The segment as text (UTF-8), without its line ending. */
    public String text() {
        ByteBuf buf = content();
        int end = buf.writerIndex();
        if (end > buf.readerIndex() && buf.getByte(end - 1) == '\n') {
            end--;
            if (end > buf.readerIndex() && buf.getByte(end - 1) == '\r') {
                end--;
            }
        }
        return buf.toString(buf.readerIndex(), end - buf.readerIndex(), StandardCharsets.UTF_8);
    }

    @Override
    public ImapResponseLine replace(ByteBuf content) {
        return new ImapResponseLine(kind, tag, status, first, literalLength, content);
    }

    @Override
    public ImapResponseLine retain() {
        super.retain();
        return this;
    }

    @Override
    public ImapResponseLine retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public ImapResponseLine touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public String toString() {
        return "ImapResponseLine[" + kind + (first ? " first" : "") + (literalLength >= 0 ? " literal=" + literalLength : "")
                + ", " + content().readableBytes() + " bytes]";
    }
}
