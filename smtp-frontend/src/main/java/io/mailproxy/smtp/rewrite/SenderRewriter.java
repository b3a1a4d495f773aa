package io.mailproxy.smtp.rewrite;

import io.mailproxy.core.config.ClientConfig.SmtpPolicy.OriginalFrom;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Rewrites the sender of one message as it streams: buffers the header block (bounded), rewrites From:/Sender:
 * (see {@link HeaderRewrite}) and passes everything after the header block through untouched.
 *
 * <p>Input is DATA content as the client sent it (dot-stuffed, CRLF line endings only); output is the same form.
 */
public final class SenderRewriter {

    /** Upper bound of the rewritten From:'s display name, in characters (keeps the size growth bounded). */
    static final int MAX_PERSONAL = 128;

    private final HeaderRewrite rewrite;
    private final int limit;
    private final ByteArrayOutputStream header = new ByteArrayOutputStream();
    private boolean bodyReached;
    /** Octets of {@code "\r\n\r\n"} (or a leading {@code "\r\n"}) matched at the end of what is buffered. */
    private int match = 2;

    public SenderRewriter(String from, OriginalFrom originalFrom, int headerLimit) {
        this.rewrite = new HeaderRewrite(from, originalFrom);
        this.limit = headerLimit;
    }

    /**
     * How much the message may grow by rewriting: the new From: (address plus an encoded display name of at most
     * {@link #MAX_PERSONAL} characters), the new Sender: and the original From: moved to a Reply-To: field no larger
     * than the header block. Added to the client's SIZE= before it goes upstream.
     */
    public static long sizeGrowth(String from, int headerLimit) {
        return headerLimit + 2L * from.length() + MAX_PERSONAL * 8L + 128;
    }

    /** Takes ownership of {@code chunk}; returns what may be forwarded now (possibly empty). */
    public ByteBuf process(ByteBuf chunk, ByteBufAllocator alloc) throws HeaderBlockTooLargeException {
        if (bodyReached) {
            return chunk;
        }
        try {
            int start = chunk.readerIndex();
            int end = chunk.writerIndex();
            for (int i = start; i < end; i++) {
                byte b = chunk.getByte(i);
                header.write(b);
                if (header.size() > limit) {
                    throw new HeaderBlockTooLargeException(limit);
                }
                // the header block ends at the first empty line: CRLF CRLF, or CRLF right at the start
                if (b == (match % 2 == 0 ? '\r' : '\n')) {
                    match++;
                } else {
                    match = b == '\r' ? 1 : 0;
                }
                if (match == 4) {
                    bodyReached = true;
                    byte[] raw = header.toByteArray();
                    // the empty line and what follows it pass through untouched
                    int headerLength = raw.length - 2;
                    byte[] rewritten = rewrite.apply(new String(raw, 0, headerLength, StandardCharsets.ISO_8859_1))
                            .getBytes(StandardCharsets.ISO_8859_1);
                    header.reset();
                    CompositeByteBuf out = alloc.compositeBuffer(2);
                    out.addComponent(true, alloc.buffer(rewritten.length + 2).writeBytes(rewritten).writeBytes(CRLF));
                    if (i + 1 < end) {
                        out.addComponent(true, chunk.retainedSlice(i + 1, end - i - 1));
                    }
                    return out;
                }
            }
            return alloc.buffer(0, 0);
        } finally {
            // every octet was copied into the header buffer or sliced with its own reference
            chunk.release();
        }
    }

    /** At the end of data: a message with no empty line is all header; returns its rewritten form (or nothing). */
    public ByteBuf finish(ByteBufAllocator alloc) {
        if (bodyReached) {
            return alloc.buffer(0, 0);
        }
        // an empty message (or a header block without its end) still leaves with the account's From:
        byte[] raw = header.toByteArray();
        header.reset();
        bodyReached = true;
        byte[] rewritten = rewrite.apply(new String(raw, StandardCharsets.ISO_8859_1)).getBytes(StandardCharsets.ISO_8859_1);
        return alloc.buffer(rewritten.length).writeBytes(rewritten);
    }

    private static final byte[] CRLF = {'\r', '\n'};
}
