package io.mailproxy.imap.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import java.nio.charset.StandardCharsets;

/**
 * One line segment of a client command, exactly as received: up to and including CRLF, or up to and including the
 * CRLF after a literal announcement ({@code {n}} or, with LITERAL+, {@code {n+}}). The literal's bytes follow as
 * {@link io.mailproxy.core.imap.ImapLiteralChunk}s, then the next segment of the same command. Whoever consumes
 * this message last releases it.
 */
public final class ImapCommandLine extends DefaultByteBufHolder {

    private final boolean first;
    private final long literalLength;
    private final boolean synchronizing;

    public ImapCommandLine(boolean first, long literalLength, boolean synchronizing, ByteBuf content) {
        super(content);
        this.first = first;
        this.literalLength = literalLength;
        this.synchronizing = synchronizing;
    }

    /** True for the first segment of a command. */
    public boolean isFirst() {
        return first;
    }

    /** The length of the literal announced at the end of this segment, or -1 when the command ends here. */
    public long literalLength() {
        return literalLength;
    }

    /**
     * True for {@code {n}}: the client waits for a continuation request, and the decoder waits for
     * {@link ImapCommandDecoder#acceptLiteral()} or {@link ImapCommandDecoder#rejectLiteral()}.
     */
    public boolean synchronizing() {
        return synchronizing;
    }

    public boolean endsCommand() {
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
    public ImapCommandLine replace(ByteBuf content) {
        return new ImapCommandLine(first, literalLength, synchronizing, content);
    }

    @Override
    public String toString() {
        return "ImapCommandLine[" + (first ? "first, " : "") + (literalLength >= 0 ? "literal=" + literalLength
                + (synchronizing ? "" : "+") + ", " : "") + content().readableBytes() + " bytes]";
    }
}
