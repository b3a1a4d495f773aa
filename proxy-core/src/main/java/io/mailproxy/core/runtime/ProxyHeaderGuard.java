package io.mailproxy.core.runtime;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.function.Consumer;

/**
 * On a {@code proxy-protocol} listener, watches the first bytes of a connection from an address that is not trusted:
 * a PROXY header there is someone claiming to be a load balancer (or one missing from {@code trusted}), so the
 * connection is closed and {@code refused} says why. Any other first bytes pass on untouched and the guard leaves the
 * pipeline. It holds at most the 12 bytes of the v2 signature, and only while they could still be one.
 */
final class ProxyHeaderGuard extends ByteToMessageDecoder {

    static final String NAME = "proxy-protocol-guard";

    private static final byte[] V1 = "PROXY ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] V2 = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private final Consumer<String> refused;

    private ProxyHeaderGuard(Consumer<String> refused) {
        this.refused = refused;
    }

    static void install(Channel channel, Consumer<String> refused) {
        channel.pipeline().addLast(NAME, new ProxyHeaderGuard(refused));
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        int v1 = match(in, V1);
        int v2 = match(in, V2);
        if (v1 == V1.length || v2 == V2.length) {
            in.skipBytes(in.readableBytes());
            SessionIds.run(ctx.channel(), () -> refused.accept("a PROXY header from an address not in"
                    + " proxy-protocol.trusted"));
            ctx.close();
            return;
        }
        if (v1 < 0 && v2 < 0) {
            ctx.pipeline().remove(this); // hands the bytes on
        }
        // else: still a prefix of a header; wait for more
    }

    /** Bytes matched when all readable bytes (up to the signature's length) match; -1 at the first difference. */
    private static int match(ByteBuf in, byte[] signature) {
        int n = Math.min(in.readableBytes(), signature.length);
        for (int i = 0; i < n; i++) {
            if (in.getByte(in.readerIndex() + i) != signature[i]) {
                return -1;
            }
        }
        return n;
    }
}
