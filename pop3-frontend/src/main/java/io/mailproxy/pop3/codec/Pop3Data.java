package io.mailproxy.pop3.codec;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.netty.buffer.Unpooled;

/**
 * A chunk of a multi-line response body as it should read once unstuffed (message bytes, listing lines with CRLF).
 * {@link Pop3ResponseEncoder} byte-stuffs it; {@link #END} closes the response. The encoder releases the content.
 */
public final class Pop3Data extends DefaultByteBufHolder {

    /** Marks the end of a multi-line response: the encoder adds CRLF if needed and {@code .CRLF}. */
    public static final Object END = new Object() {
        @Override
        public String toString() {
            return "Pop3Data.END";
        }
    };

    public Pop3Data(ByteBuf content) {
        super(content);
    }

    public static Pop3Data ascii(CharSequence text) {
        return new Pop3Data(Unpooled.copiedBuffer(text, java.nio.charset.StandardCharsets.ISO_8859_1));
    }
}
