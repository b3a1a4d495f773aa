package io.mailproxy.pop3.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.MessageToMessageEncoder;
import java.util.List;

/**
 * Encodes {@link Pop3Response} lines and streams multi-line bodies ({@link Pop3Data}, then {@link Pop3Data#END})
 * with RFC 1939 section 3 byte-stuffing: a line that starts with {@code "."} gets another {@code "."}; the body ends
 * with {@code ".CRLF"}, preceded by a CRLF when the data does not already end in CRLF (an empty body needs none).
 * A line starts after every LF, so clients that split at bare LF are protected from a premature terminator too.
 * Chunks are sliced, never copied or held. A raw {@link ByteBuf} passes through untouched (already framed bytes
 * relayed from an upstream POP3 server).
 */
public final class Pop3ResponseEncoder extends MessageToMessageEncoder<Object> {

    private static final byte[] CRLF = {'\r', '\n'};
    private static final byte[] END = {'.', '\r', '\n'};

    private boolean inBody;
    private boolean atLineStart;
    /** Stops at a '.' that starts a line; tracks line starts across chunks in {@link #atLineStart}. */
    private byte last1;
    private byte last2;
    private long bodyOctets;

    @Override
    public boolean acceptOutboundMessage(Object msg) {
        return msg instanceof Pop3Response || msg instanceof Pop3Data || msg == Pop3Data.END;
    }

    @Override
    protected void encode(ChannelHandlerContext ctx, Object msg, List<Object> out) {
        if (msg instanceof Pop3Response response) {
            String line = response.line();
            ByteBuf buf = ctx.alloc().buffer(line.length() + 2);
            buf.writeCharSequence(line, java.nio.charset.StandardCharsets.ISO_8859_1);
            buf.writeBytes(CRLF);
            out.add(buf);
            return;
        }
        if (msg == Pop3Data.END) {
            if (inBody && bodyOctets > 0 && !(last2 == '\r' && last1 == '\n')) {
                out.add(ctx.alloc().buffer(5).writeBytes(CRLF).writeBytes(END));
            } else {
                out.add(ctx.alloc().buffer(3).writeBytes(END));
            }
            inBody = false;
            return;
        }
        ByteBuf data = ((Pop3Data) msg).content();
        if (!inBody) {
            inBody = true;
            atLineStart = true;
            bodyOctets = 0;
            last1 = 0;
            last2 = 0;
        }
        stuff(ctx, data, out);
    }

    private void stuff(ChannelHandlerContext ctx, ByteBuf data, List<Object> out) {
        int start = data.readerIndex();
        int end = data.writerIndex();
        if (start == end) {
            out.add(Unpooled.EMPTY_BUFFER); // MessageToMessageEncoder wants an output for every input
            return;
        }
        int sliceFrom = start;
        int i = start;
        // one NIO view for the chunk (a single buffer access), then a tight loop for dots that start a line
        java.nio.ByteBuffer nio = data.nioBuffer(start, end - start);
        int pos = nio.position() - start;
        while (i < end) {
            int dot = -1;
            for (int j = i; j < end; j++) {
                byte b = nio.get(pos + j);
                if (atLineStart && b == '.') {
                    dot = j;
                    break;
                }
                atLineStart = b == '\n';
            }
            if (dot < 0) {
                break;
            }
            if (dot > sliceFrom) {
                out.add(data.retainedSlice(sliceFrom, dot - sliceFrom));
            }
            out.add(ctx.alloc().buffer(1).writeByte('.'));
            sliceFrom = dot;
            atLineStart = false;
            i = dot + 1;
        }
        if (end > sliceFrom) {
            out.add(data.retainedSlice(sliceFrom, end - sliceFrom));
        }
        bodyOctets += end - start;
        if (end - start >= 2) {
            last2 = data.getByte(end - 2);
            last1 = data.getByte(end - 1);
        } else {
            last2 = last1;
            last1 = data.getByte(end - 1);
        }
    }

    @Override
    public String toString() {
        return "Pop3ResponseEncoder" + (inBody ? "[in body, " + bodyOctets + " octets]" : "");
    }
}
