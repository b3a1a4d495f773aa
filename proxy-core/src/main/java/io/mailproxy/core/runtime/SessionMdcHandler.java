package io.mailproxy.core.runtime;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.slf4j.MDC;

/** Sets the MDC key {@code session} around every inbound event, so each handler after it logs with the id. */
@ChannelHandler.Sharable
final class SessionMdcHandler extends ChannelInboundHandlerAdapter {

    static final SessionMdcHandler INSTANCE = new SessionMdcHandler();

    private SessionMdcHandler() { }

    private static String enter(ChannelHandlerContext ctx) {
        String previous = MDC.get(SessionIds.MDC_KEY);
        MDC.put(SessionIds.MDC_KEY, SessionIds.of(ctx.channel()));
        return previous;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        String previous = enter(ctx);
        try {
            ctx.fireChannelActive();
        } finally {
            SessionIds.restore(previous);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        String previous = enter(ctx);
        try {
            ctx.fireChannelInactive();
        } finally {
            SessionIds.restore(previous);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        String previous = enter(ctx);
        try {
            ctx.fireChannelRead(msg);
        } finally {
            SessionIds.restore(previous);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        String previous = enter(ctx);
        try {
            ctx.fireChannelReadComplete();
        } finally {
            SessionIds.restore(previous);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        String previous = enter(ctx);
        try {
            ctx.fireChannelWritabilityChanged();
        } finally {
            SessionIds.restore(previous);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        String previous = enter(ctx);
        try {
            ctx.fireUserEventTriggered(evt);
        } finally {
            SessionIds.restore(previous);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        String previous = enter(ctx);
        try {
            ctx.fireExceptionCaught(cause);
        } finally {
            SessionIds.restore(previous);
        }
    }
}
