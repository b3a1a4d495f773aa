package io.mailproxy.core.imap;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import java.nio.charset.StandardCharsets;

/**
 * One line segment of an IMAP command or response, exactly as received: up to and including the CRLF, or up to and
 * including the CRLF after a literal announcement ({@code {n}} or {@code {n+}}), whose bytes follow as
 * {@link ImapLiteralChunk}s. What the client's commands ({@code imap-frontend}) and the server's responses
 * ({@link ImapResponseLine}) have in common; whoever consumes a segment last releases it.
 */
public abstract class ImapLineSegment extends DefaultByteBufHolder {

    private final boolean first;
    private final long literalLength;

    protected ImapLineSegment(boolean first, long literalLength, ByteBuf content) {
        super(content);
        this.first = first;
        this.literalLength = literalLength;
    }

    /** True for the first segment of a command or response. */
    public final boolean isFirst() {
        return first;
    }

    /** The length of the literal announced at the end of this segment, or -1 when the command or response ends here. */
    public final long literalLength() {
        return literalLength;
    }

    /** The segment as text (UTF-8), without its line ending. */
    public final String text() {
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
}
