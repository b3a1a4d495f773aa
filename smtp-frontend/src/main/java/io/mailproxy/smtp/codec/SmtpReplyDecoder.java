package io.mailproxy.smtp.codec;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.DecoderException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Decodes an upstream server's replies (RFC 5321 4.2.1, multi-line {@code NNN-}) into {@link SmtpReply}s. */
public final class SmtpReplyDecoder extends ByteToMessageDecoder {

    private static final int MAX_LINE = 4096;
    private static final int MAX_LINES = 256;

    private final List<String> lines = new ArrayList<>();
    private int code = -1;

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (true) {
            int start = in.readerIndex();
            int lf = in.indexOf(start, in.writerIndex(), (byte) '\n');
            if (lf < 0) {
                if (in.readableBytes() > MAX_LINE) {
                    throw new DecoderException("upstream reply line longer than " + MAX_LINE + " octets");
                }
                return;
            }
            int end = lf > start && in.getByte(lf - 1) == '\r' ? lf - 1 : lf;
            String line = in.toString(start, end - start, StandardCharsets.UTF_8);
            in.readerIndex(lf + 1);
            if (line.length() < 3 || !Character.isDigit(line.charAt(0)) || !Character.isDigit(line.charAt(1))
                    || !Character.isDigit(line.charAt(2)) || (line.length() > 3 && line.charAt(3) != ' '
                    && line.charAt(3) != '-')) {
                throw new DecoderException("not an SMTP reply line: " + abbreviate(line));
            }
            int lineCode = Integer.parseInt(line.substring(0, 3));
            if (lineCode < 200 || lineCode > 599 || (code >= 0 && lineCode != code)) {
                throw new DecoderException("inconsistent SMTP reply code: " + abbreviate(line));
            }
            code = lineCode;
            lines.add(line.length() > 4 ? line.substring(4) : "");
            if (lines.size() > MAX_LINES) {
                throw new DecoderException("upstream reply with more than " + MAX_LINES + " lines");
            }
            if (line.length() == 3 || line.charAt(3) == ' ') {
                out.add(new SmtpReply(code, lines));
                lines.clear();
                code = -1;
            }
        }
    }

    private static String abbreviate(String line) {
        return line.length() > 80 ? line.substring(0, 80) + "..." : line;
    }
}
