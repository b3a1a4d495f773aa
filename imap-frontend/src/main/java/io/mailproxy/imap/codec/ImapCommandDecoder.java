package io.mailproxy.imap.codec;

import io.mailproxy.core.imap.ImapLiteralChunk;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Frames client commands (RFC 3501 section 2.2, RFC 7888 LITERAL+) into {@link ImapCommandLine} segments and
 * {@link ImapLiteralChunk}s, streaming literals. A line segment is limited to {@code maxLineLength} bytes and a
 * literal to the current literal limit ({@link #setMaxLiteral}: small before login, large after). What breaks a
 * limit becomes an {@link ImapCommandError}; the consumer answers BAD (and closes before login).
 *
 * <p>After a synchronizing literal announcement the decoder pauses until the consumer calls {@link #acceptLiteral()}
 * (having sent the continuation request) or {@link #rejectLiteral()} (the client will not send it).
 */
public final class ImapCommandDecoder extends ByteToMessageDecoder {

    private enum State { LINE, AWAIT_DECISION, LITERAL, DISCARD_LINE, FAILED }

    private static final int MAX_LITERAL_DIGITS = 18;

    private final int maxLineLength;
    private long maxLiteral;
    private State state = State.LINE;
    private long literalRemaining;
    private long pendingLiteral;
    private boolean inCommand;
    private String tag = "*";
    private int scanned;

    public ImapCommandDecoder(int maxLineLength, long maxLiteral) {
        this.maxLineLength = maxLineLength;
        this.maxLiteral = maxLiteral;
    }

    /** Changes the literal limit (after login). */
    public void setMaxLiteral(long maxLiteral) {
        this.maxLiteral = maxLiteral;
    }

    /** The client got its continuation request: the announced literal's bytes come next. */
    public void acceptLiteral() {
        if (state != State.AWAIT_DECISION) {
            throw new IllegalStateException("no literal awaiting a decision");
        }
        literalRemaining = pendingLiteral;
        state = literalRemaining > 0 ? State.LITERAL : State.LINE;
    }

    /** The command was refused before its literal: the client sends a new command next. */
    public void rejectLiteral() {
        if (state != State.AWAIT_DECISION) {
            throw new IllegalStateException("no literal awaiting a decision");
        }
        state = State.LINE;
        inCommand = false;
    }

    /** True while a command is partly received. */
    public boolean inCommand() {
        return inCommand;
    }

    /** Bytes received but not yet decoded (bounded by the line limit: literals are never accumulated). */
    int bufferedBytes() {
        return actualReadableBytes();
    }

    /** Drops whatever is buffered (STARTTLS: nothing sent in plaintext after the command may be used). */
    public void discardBuffered() {
        ByteBuf cumulation = internalBuffer();
        cumulation.skipBytes(cumulation.readableBytes());
        scanned = 0;
    }

    /**
     * Forgets everything received so far: buffered bytes and the command in progress (STARTTLS: the next command
     * comes over TLS, from the start of a line).
     */
    public void reset() {
        discardBuffered();
        state = State.LINE;
        inCommand = false;
        literalRemaining = 0;
        pendingLiteral = 0;
        tag = "*";
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (in.isReadable()) {
            switch (state) {
                case FAILED -> {
                    in.skipBytes(in.readableBytes());
                    return;
                }
                case AWAIT_DECISION -> {
                    return;
                }
                case LITERAL -> {
                    int n = (int) Math.min(in.readableBytes(), literalRemaining);
                    literalRemaining -= n;
                    out.add(new ImapLiteralChunk(in.readRetainedSlice(n), literalRemaining == 0));
                    if (literalRemaining == 0) {
                        state = State.LINE;
                    }
                }
                case DISCARD_LINE -> {
                    int lf = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) '\n');
                    if (lf < 0) {
                        in.skipBytes(in.readableBytes());
                        return;
                    }
                    in.readerIndex(lf + 1);
                    state = State.LINE;
                    inCommand = false;
                }
                case LINE -> {
                    if (!decodeLine(in, out)) {
                        return;
                    }
                }
                default -> throw new IllegalStateException(state.toString());
            }
        }
    }

    /** @return false when more input is needed */
    private boolean decodeLine(ByteBuf in, List<Object> out) {
        int start = in.readerIndex();
        int lf = in.indexOf(start + scanned, in.writerIndex(), (byte) '\n');
        if (lf < 0) {
            scanned = in.readableBytes();
            if (scanned > maxLineLength) {
                tooLong(in, out);
            }
            return false;
        }
        scanned = 0;
        int length = lf - start + 1;
        if (length > maxLineLength) {
            tooLong(in, out);
            return true;
        }
        boolean first = !inCommand;
        if (first) {
            tag = readTag(in, start, lf);
        }
        int end = lf > start && in.getByte(lf - 1) == '\r' ? lf - 1 : lf;
        long literal = -1;
        boolean sync = true;
        if (end - start >= 3 && in.getByte(end - 1) == '}') {
            int i = end - 2;
            if (in.getByte(i) == '+') {
                sync = false;
                i--;
            }
            int digitsEnd = i + 1;
            while (i >= start && in.getByte(i) >= '0' && in.getByte(i) <= '9') {
                i--;
            }
            int digits = digitsEnd - i - 1;
            if (i >= start && in.getByte(i) == '{' && digits > 0) {
                literal = digits > MAX_LITERAL_DIGITS ? Long.MAX_VALUE : Long.parseLong(
                        in.toString(i + 1, digits, StandardCharsets.US_ASCII));
            }
        }
        if (literal > maxLiteral) {
            in.skipBytes(length);
            out.add(new ImapCommandError(ImapCommandError.Kind.LITERAL_TOO_LARGE, tag, !first, sync));
            if (sync) {
                inCommand = false; // the client waits for a continuation it will not get
            } else {
                state = State.FAILED;
                in.skipBytes(in.readableBytes());
            }
            return true;
        }
        out.add(new ImapCommandLine(first, literal, sync, in.readRetainedSlice(length)));
        inCommand = literal >= 0;
        if (literal >= 0) {
            if (sync) {
                pendingLiteral = literal;
                state = State.AWAIT_DECISION;
            } else {
                literalRemaining = literal;
                state = literal > 0 ? State.LITERAL : State.LINE;
            }
        }
        return true;
    }

    private void tooLong(ByteBuf in, List<Object> out) {
        boolean first = !inCommand;
        if (first) {
            tag = readTag(in, in.readerIndex(), in.writerIndex());
        }
        scanned = 0;
        out.add(new ImapCommandError(ImapCommandError.Kind.LINE_TOO_LONG, tag, !first, first));
        int lf = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) '\n');
        if (first && lf >= 0) {
            in.readerIndex(lf + 1); // skip the line; the next command follows
            inCommand = false;
        } else {
            in.skipBytes(in.readableBytes());
            state = first ? State.DISCARD_LINE : State.FAILED;
        }
    }

    /** The tag at the start of a command, or "*" when there is no valid one. */
    private static String readTag(ByteBuf in, int start, int end) {
        int limit = Math.min(end, start + 64);
        for (int i = start; i < limit; i++) {
            byte b = in.getByte(i);
            if (b == ' ') {
                return i == start ? "*" : in.toString(start, i - start, StandardCharsets.US_ASCII);
            }
            if (!ImapCommandLine.isTagChar(b)) {
                return "*";
            }
        }
        return "*";
    }
}
