package io.mailproxy.imap.codec;

import io.mailproxy.core.imap.ImapLineSegment;
import io.netty.buffer.ByteBuf;

/**
 * One line segment of a client command, exactly as received: up to and including CRLF, or up to and including the
 * CRLF after a literal announcement ({@code {n}} or, with LITERAL+, {@code {n+}}). The literal's bytes follow as
 * {@link io.mailproxy.core.imap.ImapLiteralChunk}s, then the next segment of the same command. Whoever consumes
 * this message last releases it.
 */
public final class ImapCommandLine extends ImapLineSegment {

    private final boolean synchronizing;

    public ImapCommandLine(boolean first, long literalLength, boolean synchronizing, ByteBuf content) {
        super(first, literalLength, content);
        this.synchronizing = synchronizing;
    }

    /**
     * True for {@code {n}}: the client waits for a continuation request, and the decoder waits for
     * {@link ImapCommandDecoder#acceptLiteral()} or {@link ImapCommandDecoder#rejectLiteral()}.
     */
    public boolean synchronizing() {
        return synchronizing;
    }

    public boolean endsCommand() {
        return literalLength() < 0;
    }

    @Override
    public ImapCommandLine replace(ByteBuf content) {
        return new ImapCommandLine(isFirst(), literalLength(), synchronizing, content);
    }

    @Override
    public String toString() {
        return "ImapCommandLine[" + (isFirst() ? "first, " : "") + (literalLength() >= 0 ? "literal=" + literalLength()
                + (synchronizing ? "" : "+") + ", " : "") + content().readableBytes() + " bytes]";
    }
}
