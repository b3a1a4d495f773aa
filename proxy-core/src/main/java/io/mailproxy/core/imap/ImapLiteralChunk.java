package io.mailproxy.core.imap;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;

/**
 * A piece of a literal's bytes, as they arrived; a literal is never buffered whole. A literal of length 0 has no
 * chunks. Whoever consumes this message last releases it.
 */
public final class ImapLiteralChunk extends DefaultByteBufHolder {

    private final boolean last;

    public ImapLiteralChunk(ByteBuf content, boolean last) {
        super(content);
        this.last = last;
    }

    /** True for the chunk that completes the literal; the next message is the rest of the response's line. */
    public boolean isLast() {
        return last;
    }

    @Override
    public ImapLiteralChunk replace(ByteBuf content) {
        return new ImapLiteralChunk(content, last);
    }

    @Override
    public ImapLiteralChunk retain() {
        super.retain();
        return this;
    }

    @Override
    public ImapLiteralChunk retain(int increment) {
        super.retain(increment);
        return this;
    }

    @Override
    public ImapLiteralChunk touch(Object hint) {
        super.touch(hint);
        return this;
    }

    @Override
    public String toString() {
        return "ImapLiteralChunk[" + content().readableBytes() + " bytes" + (last ? ", last" : "") + "]";
    }
}
