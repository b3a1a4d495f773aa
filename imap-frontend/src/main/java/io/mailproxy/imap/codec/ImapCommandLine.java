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

    /**
     * For a command's first segment: true when it starts with a tag as RFC 3501 section 9 defines one
     * ({@code 1*<any ASTRING-CHAR except "+">}), ended by SP or the end of the line. {@code a)b} is no tag: a parser
     * that skips the ")" reads the command word "b" where another reads "a)b" as the tag.
     */
    public boolean hasValidTag() {
        ByteBuf c = content();
        int start = c.readerIndex();
        int end = c.writerIndex();
        if (end > start && c.getByte(end - 1) == '\n') {
            end--;
            if (end > start && c.getByte(end - 1) == '\r') {
                end--;
            }
        }
        int i = start;
        while (i < end && c.getByte(i) != ' ') {
            if (!isTagChar(c.getByte(i))) {
                return false;
            }
            i++;
        }
        return i > start;
    }

    /** A byte a tag may hold: ASTRING-CHAR except "+" (no CTL, SP, 8-bit, "(", ")", "{", "%", "*", DQUOTE, backslash). */
    public static boolean isTagChar(int b) {
        return b > ' ' && b < 127 && "(){%*\"\\+".indexOf(b) < 0;
    }

    /** True when {@code tag} is a tag by RFC 3501's grammar (see {@link #hasValidTag()}). */
    public static boolean isTag(String tag) {
        return !tag.isEmpty() && tag.chars().allMatch(ImapCommandLine::isTagChar);
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
