package io.mailproxy.pop3.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ByteProcessor;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Frames client command lines. RFC 2449 section 4 limits a command line to 255 octets including CRLF; real clients
 * exceed that (long user names, SASL responses), so the limit is {@code lineLimit + tolerance}. A longer line is
 * discarded up to its LF and reported as {@link Pop3OversizeLine}; a line still going at {@code abusiveLength}
 * is reported at once as abusive. A line ends at LF; a CR before it is stripped.
 */
public final class Pop3CommandDecoder extends ByteToMessageDecoder {

    private final int maxLength;
    private final long abusiveLength;
    /** Bytes of the current line already scanned without finding LF. */
    private int scanned;
    /** Octets of an oversize line discarded so far; -1 when not discarding. */
    private long discarded = -1;

    /**
     * @param maxLength     the longest accepted line, CRLF included
     * @param abusiveLength a line this long is abuse (must be larger than maxLength)
     */
    public Pop3CommandDecoder(int maxLength, long abusiveLength) {
        if (maxLength < 8 || abusiveLength <= maxLength) {
            throw new IllegalArgumentException("need 8 <= maxLength < abusiveLength");
        }
        this.maxLength = maxLength;
        this.abusiveLength = abusiveLength;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (in.isReadable()) {
            if (discarded >= 0) {
                int lf = in.forEachByte(ByteProcessor.FIND_LF);
                if (lf < 0) {
                    discarded += in.readableBytes();
                    in.skipBytes(in.readableBytes());
                    if (discarded >= abusiveLength) {
                        out.add(new Pop3OversizeLine(discarded, true));
                        discarded = -1;
                        scanned = 0;
                        // whatever follows is still part of the abusive line; the session closes
                        return;
                    }
                    return;
                }
                discarded += lf - in.readerIndex() + 1;
                in.readerIndex(lf + 1);
                out.add(new Pop3OversizeLine(discarded, false));
                discarded = -1;
                continue;
            }
            int from = in.readerIndex() + scanned;
            int lf = in.forEachByte(from, in.writerIndex() - from, ByteProcessor.FIND_LF);
            if (lf < 0) {
                scanned = in.readableBytes();
                if (scanned > maxLength) {
                    discarded = scanned;
                    in.skipBytes(scanned);
                    scanned = 0;
                }
                return;
            }
            scanned = 0;
            int length = lf - in.readerIndex() + 1;
            if (length > maxLength) {
                in.readerIndex(lf + 1);
                out.add(new Pop3OversizeLine(length, false));
                continue;
            }
            int end = lf;
            if (end > in.readerIndex() && in.getByte(end - 1) == '\r') {
                end--;
            }
            String text = in.toString(in.readerIndex(), end - in.readerIndex(), StandardCharsets.ISO_8859_1);
            in.readerIndex(lf + 1);
            out.add(new Pop3CommandLine(text));
        }
    }
}
