package io.mailproxy.smtp.codec;

import io.mailproxy.smtp.codec.SmtpInbound.CommandLine;
import io.mailproxy.smtp.codec.SmtpInbound.DataAbandoned;
import io.mailproxy.smtp.codec.SmtpInbound.DataChunk;
import io.mailproxy.smtp.codec.SmtpInbound.DataEnd;
import io.mailproxy.smtp.codec.SmtpInbound.DataOutcome;
import io.mailproxy.smtp.codec.SmtpInbound.DataRefused;
import io.mailproxy.smtp.codec.SmtpInbound.LineTooLong;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ByteProcessor;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;

/**
 * The server-side SMTP framer. Command mode cuts lines (at most {@code maxLine} octets with the line ending);
 * DATA mode streams the message as {@link DataChunk}s and ends it only at {@code CRLF.CRLF}. A bare CR or bare LF
 * anywhere in DATA refuses the message (RFC 5321 2.3.8), so {@code LF.LF}, {@code CR.CR} or {@code CRLF.LF} can never
 * end it here nor be passed upstream where another server might take them as the end (SMTP smuggling).
 *
 * <p>It also owns reading: the channel runs with AUTO_READ off and this handler calls {@code read()} only when the
 * session is not {@link #pause() paused} and every buffered byte has been decoded. The session pauses while it waits
 * (for the upstream, the authenticator, a writable upstream), so at most one socket read is buffered and memory stays
 * bounded by configuration, not by what a client sends. Nor does it decode or read while the channel is not writable
 * (a client that sends commands but does not read the replies), so the replies waiting to go out stay bounded by the
 * channel's write-buffer high-water mark.
 */
public final class SmtpServerDecoder extends ChannelInboundHandlerAdapter {

    private enum Mode { COMMAND, SKIP_LINE, DATA, DATA_DISCARD, ABANDONED }

    /** The default of {@code max-discard}: octets of a refused message read and dropped before giving up on it. */
    public static final long DEFAULT_MAX_DISCARD = 64L << 20;

    /** {@code CRLF.CRLF}: the only end of DATA. */
    private static final byte[] END = {'\r', '\n', '.', '\r', '\n'};

    private final int maxLine;
    private ChannelHandlerContext ctx;
    private ByteBuf buffered;
    private Mode mode = Mode.COMMAND;
    private boolean paused;
    private boolean draining;
    private boolean closed;

    private boolean atLineStart;
    private long dataSize;
    private long dataMax;
    private DataOutcome dataOutcome;
    private int endMatch;
    private long maxDiscard = DEFAULT_MAX_DISCARD;
    private long discarded;
    private long discardLimit;

    /** @param maxLine longest command line accepted, line ending included (1000 per RFC 5321 4.5.3.1.4, plus tolerance) */
    public SmtpServerDecoder(int maxLine) {
        if (maxLine < 8) {
            throw new IllegalArgumentException("maxLine too small: " + maxLine);
        }
        this.maxLine = maxLine;
    }

    /**
     * After a message is refused, its rest is read and dropped up to its end so that the client gets its reply
     * there; a client still sending after this many more octets gets {@link DataAbandoned} and is read no more.
     */
    public void setMaxDiscard(long maxDiscard) {
        this.maxDiscard = maxDiscard;
    }

    /** Stops decoding after the current message until {@link #resume()}. */
    public void pause() {
        paused = true;
    }

    public boolean isPaused() {
        return paused;
    }

    /** Decodes what is buffered, then reads more when everything is consumed. Call on the event loop. */
    public void resume() {
        paused = false;
        if (!draining && ctx != null) {
            drain();
        }
    }

    /** Switches to DATA mode: the next bytes are the message (call after the {@code 354} reply). */
    public void startData(long maxSize) {
        mode = Mode.DATA;
        atLineStart = true;
        dataSize = 0;
        dataMax = maxSize;
        dataOutcome = DataOutcome.COMPLETE;
    }

    /** Gives up on the current message: the rest of it is read and dropped up to {@code CRLF.CRLF}. */
    public void abortData(DataOutcome outcome) {
        if (mode == Mode.DATA) {
            enterDiscard(outcome, atLineStart ? 2 : 0);
        } else if (mode == Mode.DATA_DISCARD && dataOutcome == DataOutcome.COMPLETE) {
            dataOutcome = outcome;
        }
    }

    public boolean inData() {
        return mode == Mode.DATA || mode == Mode.DATA_DISCARD;
    }

    /** Drops input received but not decoded yet (after STARTTLS: nothing sent in plaintext may count). */
    public void discardBuffered() {
        if (buffered != null) {
            buffered.skipBytes(buffered.readableBytes());
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseBuffer();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ctx.fireChannelRead(msg);
            return;
        }
        if (closed) {
            in.release();
            return;
        }
        append(in);
        if (!draining) {
            drain();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        ctx.fireChannelReadComplete();
    }

    /** Decoding and reading, stopped while the client did not read its replies, go on once it has. */
    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        ctx.fireChannelWritabilityChanged();
        if (ctx.channel().isWritable()) {
            // later, not inside the flush that made the channel writable
            ctx.executor().execute(() -> {
                if (!paused && !draining && !closed && ctx.channel().isWritable()) {
                    drain();
                    ctx.fireChannelReadComplete(); // the session flushes the replies to what was decoded
                }
            });
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closed = true;
        releaseBuffer();
        ctx.fireChannelInactive();
    }

    private void append(ByteBuf in) {
        if (buffered == null || !buffered.isReadable()) {
            if (buffered != null) {
                buffered.release();
            }
            buffered = in;
            return;
        }
        // The remainder is small (a partial line, or at most two undecided octets in DATA); copying keeps chunks
        // already handed on (retained slices of the old buffer) untouched.
        ByteBuf merged = ctx.alloc().buffer(buffered.readableBytes() + in.readableBytes());
        try {
            merged.writeBytes(buffered).writeBytes(in);
        } finally {
            buffered.release();
            in.release();
        }
        buffered = merged;
    }

    private void releaseBuffer() {
        if (buffered != null) {
            ReferenceCountUtil.safeRelease(buffered);
            buffered = null;
        }
    }

    private void drain() {
        if (mode == Mode.ABANDONED) {
            // nothing more is decoded; what comes is dropped as it comes, even after our side of the connection is
            // shut (then it is never "writable" again, and stopping to read would make the close a reset)
            releaseBuffer();
            if (!closed && ctx.channel().isActive()) {
                ctx.read();
            }
            return;
        }
        draining = true;
        try {
            while (!paused && !closed && buffered != null && buffered.isReadable() && ctx.channel().isWritable()) {
                boolean progress = switch (mode) {
                    case COMMAND -> decodeLine();
                    case SKIP_LINE -> skipLine();
                    case DATA -> decodeData();
                    case DATA_DISCARD -> discardData();
                    case ABANDONED -> false; // handled above
                };
                if (!progress) {
                    break;
                }
            }
        } finally {
            draining = false;
        }
        // a client that does not read its replies is not read either: the outbound buffer stays bounded
        if (!paused && !closed && ctx.channel().isActive() && ctx.channel().isWritable()) {
            if (buffered != null && !buffered.isReadable()) {
                releaseBuffer();
            }
            ctx.read();
        }
    }

    private boolean decodeLine() {
        ByteBuf buf = buffered;
        int start = buf.readerIndex();
        int lf = buf.indexOf(start, buf.writerIndex(), (byte) '\n');
        if (lf < 0) {
            if (buf.readableBytes() >= maxLine) {
                buf.skipBytes(buf.readableBytes());
                mode = Mode.SKIP_LINE;
                ctx.fireChannelRead(new LineTooLong(maxLine));
                return true;
            }
            return false;
        }
        int length = lf + 1 - start;
        if (length > maxLine) {
            buf.skipBytes(length);
            ctx.fireChannelRead(new LineTooLong(maxLine));
            return true;
        }
        int end = lf > start && buf.getByte(lf - 1) == '\r' ? lf - 1 : lf;
        String text = buf.toString(start, end - start, StandardCharsets.UTF_8);
        buf.skipBytes(length);
        ctx.fireChannelRead(new CommandLine(text));
        return true;
    }

    private boolean skipLine() {
        ByteBuf buf = buffered;
        int lf = buf.indexOf(buf.readerIndex(), buf.writerIndex(), (byte) '\n');
        if (lf < 0) {
            buf.skipBytes(buf.readableBytes());
            return false;
        }
        buf.skipBytes(lf + 1 - buf.readerIndex());
        mode = Mode.COMMAND;
        return true;
    }

    /**
     * Scans for the end of data. The state at the reader index is only "at the start of a line" or not: octets
     * whose meaning depends on what follows ({@code CR}, a leading {@code .}, {@code .CR}) stay buffered until it
     * arrives, so a split at any byte decodes the same.
     */
    private boolean decodeData() {
        ByteBuf buf = buffered;
        int start = buf.readerIndex();
        int limit = buf.writerIndex();
        int i = start;
        boolean lineStart = atLineStart;
        long size = dataSize;
        while (i < limit) {
            if (lineStart && buf.getByte(i) == '.') {
                if (i + 1 >= limit) {
                    break;
                }
                byte b1 = buf.getByte(i + 1);
                if (b1 == '\r') {
                    if (i + 2 >= limit) {
                        break;
                    }
                    if (buf.getByte(i + 2) == '\n') {
                        emitChunk(start, i);
                        buf.readerIndex(i + 3);
                        dataSize = size;
                        mode = Mode.COMMAND;
                        ctx.fireChannelRead(new DataEnd(DataOutcome.COMPLETE, size));
                        return true;
                    }
                    return refuse(start, i, DataOutcome.BARE_LINE_ENDING, true, size);
                }
                if (b1 == '\n') {
                    return refuse(start, i, DataOutcome.BARE_LINE_ENDING, true, size);
                }
                // A stuffed dot (RFC 5321 4.5.2): forwarded as it is, not counted in the size.
                i++;
                lineStart = false;
                continue;
            }
            // the rest of the line up to its CR or LF, in one pass
            int eol = buf.forEachByte(i, limit - i, ByteProcessor.FIND_CRLF);
            int segmentEnd = eol < 0 ? limit : eol;
            if (segmentEnd > i) {
                long before = size;
                size += segmentEnd - i;
                lineStart = false;
                if (size > dataMax) {
                    int at = i + (int) (dataMax - before) + 1;
                    return refuse(start, at, DataOutcome.TOO_BIG, false, dataMax + 1);
                }
                i = segmentEnd;
            }
            if (eol < 0) {
                break;
            }
            if (buf.getByte(i) == '\n') {
                return refuse(start, i, DataOutcome.BARE_LINE_ENDING, lineStart, size);
            }
            if (i + 1 >= limit) {
                break;
            }
            if (buf.getByte(i + 1) != '\n') {
                return refuse(start, i, DataOutcome.BARE_LINE_ENDING, lineStart, size);
            }
            i += 2;
            size += 2;
            lineStart = true;
            if (size > dataMax) {
                return refuse(start, i, DataOutcome.TOO_BIG, true, size);
            }
        }
        atLineStart = lineStart;
        dataSize = size;
        if (i > start) {
            emitChunk(start, i);
            buf.readerIndex(i);
            return true;
        }
        return false;
    }

    private void emitChunk(int from, int to) {
        if (to > from) {
            ctx.fireChannelRead(new DataChunk(buffered.retainedSlice(from, to - from)));
        }
    }

    /** Drops the message from {@code at} on; {@code lineStart} tells whether {@code at} starts a line. */
    private boolean refuse(int start, int at, DataOutcome outcome, boolean lineStart, long size) {
        dataSize = size;
        // what came before is content like any other (so a split anywhere gives the same chunks); the session
        // drops the upstream connection without the final dot anyway
        emitChunk(start, at);
        buffered.readerIndex(at);
        enterDiscard(outcome, lineStart ? 2 : 0);
        ctx.fireChannelRead(new DataRefused(outcome));
        return true;
    }

    private void enterDiscard(DataOutcome outcome, int match) {
        mode = Mode.DATA_DISCARD;
        dataOutcome = outcome;
        endMatch = match;
        discarded = 0;
        // refused for its size: max-discard more; given up for another reason (a bare line ending, the upstream
        // lost): the rest of what max-size allowed, plus max-discard, so a well-behaved large message still ends
        discardLimit = maxDiscard + (outcome == DataOutcome.TOO_BIG ? 0 : Math.max(0, dataMax - dataSize));
    }

    /**
     * Skips a refused message up to its {@code CRLF.CRLF}, counting its octets (as received, the final
     * {@code .CRLF} excluded, as {@link #decodeData()} counts). Between candidates it jumps from CR
     * to CR with {@link ByteBuf#indexOf} (a word-at-a-time search) instead of a call per octet: a client that keeps
     * sending after its limit costs the daemon as little as possible. A match begun in an earlier read goes on
     * octet by octet ({@code endMatch}).
     */
    private boolean discardData() {
        ByteBuf buf = buffered;
        int i = buf.readerIndex();
        int limit = buf.writerIndex();
        while (i < limit) {
            if (endMatch == 0) {
                int cr = buf.indexOf(i, limit, (byte) '\r');
                int to = cr < 0 ? limit : cr;
                if (discarded + (to - i) > discardLimit) {
                    // at the octet that crosses the limit, a point of the stream, not of a read: every split of the
                    // input gives the same
                    dataSize += discardLimit + 1 - discarded;
                    discarded = discardLimit + 1;
                    return abandon();
                }
                dataSize += to - i;
                discarded += to - i;
                i = to;
                if (cr < 0) {
                    break;
                }
            }
            byte b = buf.getByte(i++);
            dataSize++;
            discarded++;
            if (b == END[endMatch]) {
                endMatch++;
            } else {
                endMatch = b == '\r' ? 1 : 0;
            }
            if (endMatch == END.length) {
                buf.readerIndex(i);
                mode = Mode.COMMAND;
                // ".CRLF" ends the data (always read here: the discard starts at most after "CRLF"); the CRLF
                // before it ends the message's last line, which belongs to the message
                dataSize -= 3;
                ctx.fireChannelRead(new DataEnd(dataOutcome, dataSize));
                return true;
            }
            if (discarded > discardLimit) {
                return abandon();
            }
        }
        buf.readerIndex(limit);
        return false;
    }

    /** The client went on past the discard limit: nothing more of it is decoded. */
    private boolean abandon() {
        buffered.readerIndex(buffered.writerIndex());
        mode = Mode.ABANDONED; // whatever else comes is dropped unread
        ctx.fireChannelRead(new DataAbandoned(dataOutcome, discarded));
        return false;
    }
}
