package io.mailproxy.core.runtime;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.FileRegion;

/**
 * Counts a session's bytes on the wire each way (first in the pipeline, so TLS records count as sent), into its
 * {@link Session} and the {@code mailproxy.session.bytes} counter of its protocol. One instance per protocol, shared.
 */
@ChannelHandler.Sharable
final class SessionTrafficHandler extends ChannelDuplexHandler {

    private final Counter in;
    private final Counter out;

    SessionTrafficHandler(String protocol, MeterRegistry meters) {
        this.in = Counter.builder("mailproxy.session.bytes").baseUnit("bytes").tag("protocol", protocol)
                .tag("direction", "in").description("bytes received from clients").register(meters);
        this.out = Counter.builder("mailproxy.session.bytes").baseUnit("bytes").tag("protocol", protocol)
                .tag("direction", "out").description("bytes sent to clients").register(meters);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        long n = size(msg);
        if (n > 0) {
            Session session = ctx.channel().attr(Session.KEY).get();
            if (session != null) {
                session.bytesIn += n; // written only on the channel's event loop
            }
            in.increment(n);
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        long n = size(msg);
        if (n > 0) {
            Session session = ctx.channel().attr(Session.KEY).get();
            if (session != null) {
                session.bytesOut += n;
            }
            out.increment(n);
        }
        ctx.write(msg, promise);
    }

    private static long size(Object msg) {
        if (msg instanceof ByteBuf buf) {
            return buf.readableBytes();
        }
        if (msg instanceof ByteBufHolder holder) {
            return holder.content().readableBytes();
        }
        if (msg instanceof FileRegion region) {
            return region.count();
        }
        return 0;
    }
}
