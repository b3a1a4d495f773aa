package io.mailproxy.core.imap;

import io.netty.buffer.ByteBuf;

/**
 * One line segment of an IMAP response, exactly as received: up to and including the CRLF, or up to and including
 * the CRLF after a literal announcement ({@code {n}} or {@code {n+}}). {@link #content()} holds those bytes; whoever
 * consumes this message last releases it.
 *
 * <p>A response is a first segment, then for each announced literal its {@link ImapLiteralChunk}s and one more
 * segment, and it ends with the segment for which {@link #endsResponse()} is true.
 */
public final class ImapResponseLine extends ImapLineSegment {

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

    public ImapResponseLine(Kind kind, String tag, ImapStatus status, boolean first, long literalLength, ByteBuf content) {
        super(first, literalLength, content);
        this.kind = kind;
        this.tag = tag;
        this.status = status;
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

    /** True when this segment ends with CRLF and announces no literal: the response is complete. */
    public boolean endsResponse() {
        return literalLength() < 0;
    }

    @Override
    public ImapResponseLine replace(ByteBuf content) {
        return new ImapResponseLine(kind, tag, status, isFirst(), literalLength(), content);
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
        return "ImapResponseLine[" + kind + (isFirst() ? " first" : "") + (literalLength() >= 0 ? " literal=" + literalLength() : "")
                + ", " + content().readableBytes() + " bytes]";
    }
}
