package io.mailproxy.core.pool;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches an idle pooled channel (AUTO_READ on while idle) so a connection the upstream ends is noticed at once:
 * a {@code * BYE}, a {@code 421}, or anything else it says unasked leaves the session in a state the pool cannot
 * know, so the channel is closed (and its close listener removes it from the pool).
 */
final class IdleWatchHandler extends ChannelInboundHandlerAdapter {

    static final String NAME = "mpx-idle";
    private static final Logger log = LoggerFactory.getLogger(IdleWatchHandler.class);

    private final String poolName;

    private IdleWatchHandler(String poolName) {
        this.poolName = poolName;
    }

    /** On the channel's event loop: installs the watcher after {@code "tls"} and starts reading. */
    static void start(Channel channel, String poolName) {
        ChannelPipeline pipeline = channel.pipeline();
        if (pipeline.get(NAME) == null) {
            if (pipeline.get("tls") != null) {
                pipeline.addAfter("tls", NAME, new IdleWatchHandler(poolName));
            } else {
                pipeline.addFirst(NAME, new IdleWatchHandler(poolName));
            }
        }
        channel.config().setAutoRead(true);
    }

    /** On the channel's event loop: stops reading and removes the watcher (back to the hand-over shape). */
    static void stop(Channel channel) {
        channel.config().setAutoRead(false);
        if (channel.pipeline().get(NAME) != null) {
            channel.pipeline().remove(NAME);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof ByteBuf buf && log.isDebugEnabled()) {
                int len = Math.min(buf.readableBytes(), 120);
                log.debug("{}: upstream spoke while idle, closing: {}", poolName,
                        buf.toString(buf.readerIndex(), len, StandardCharsets.UTF_8).strip());
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
        ctx.channel().config().setAutoRead(false);
        ctx.close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof java.io.IOException || cause.getCause() instanceof javax.net.ssl.SSLException) {
            log.debug("{}: idle upstream connection failed: {}", poolName, cause.toString());
        } else {
            // not the network: a bug or a state the pool did not expect; closing hides it unless it is said here
            log.warn("{}: unexpected failure on an idle upstream connection; closing it", poolName, cause);
        }
        ctx.close();
    }
}
