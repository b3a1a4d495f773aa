package io.mailproxy.smtp.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;

/** What {@link SmtpServerDecoder} hands the session: command lines, DATA chunks and DATA outcomes. */
public final class SmtpInbound {

    private SmtpInbound() { }

    /** A command line (or an AUTH continuation) without its line ending, decoded as UTF-8 (RFC 6531). */
    public record CommandLine(String text) { }

    /** A command line over the limit; it was discarded up to its line ending. Reply {@code 500 5.5.2}. */
    public record LineTooLong(int limit) { }

    /**
     * Message bytes exactly as the client sent them, still dot-stuffed, with CRLF line endings only. Every chunk
     * ends at a point where the framer knows it is message content; the terminating {@code CRLF.CRLF} is never
     * part of a chunk (its first CRLF, the end of the last line, is). The receiver releases it.
     */
    public static final class DataChunk extends DefaultByteBufHolder {
        public DataChunk(ByteBuf content) {
            super(content);
        }
    }

    /** Why DATA will not be relayed. */
    public enum DataOutcome {
        /** The message arrived whole. */
        COMPLETE,
        /** A CR or LF that is not part of a CRLF pair (RFC 5321 2.3.8): refused, so nobody can smuggle an end. */
        BARE_LINE_ENDING,
        /** The message grew past its size limit. */
        TOO_BIG,
        /** The session gave up (header block too large, upstream lost): the rest is read and dropped. */
        ABORTED
    }

    /** Fired once, as soon as the framer refuses the message; nothing more of it follows. */
    public record DataRefused(DataOutcome outcome) { }

    /**
     * The client's {@code CRLF.CRLF} arrived: the client now waits for the final reply.
     *
     * @param size the message size in octets without dot-stuffing and without the terminator
     */
    public record DataEnd(DataOutcome outcome, long size) { }

    /**
     * The client kept sending a refused message for longer than the framer's discard limit: it is not sending a
     * message any more. Nothing more is read from it; the session says why and closes.
     */
    public record DataAbandoned(DataOutcome outcome, long discarded) { }
}
