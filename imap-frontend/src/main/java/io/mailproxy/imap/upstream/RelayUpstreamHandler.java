package io.mailproxy.imap.upstream;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

/**
 * The relay's handler on an upstream connection (after core's response decoder): every event hops to the client's
 * event loop, where the relay's state lives, and is dropped there if the session has moved to another connection
 * meanwhile.
 */
final class RelayUpstreamHandler extends ChannelInboundHandlerAdapter {

    private final ImapRelay relay;
    private final Channel ch;

    RelayUpstreamHandler(ImapRelay relay, Channel ch) {
        this.relay = relay;
        this.ch = ch;
    }

    /** Runs on the client's loop, unless the session has moved to another upstream connection meanwhile. */
    private void onClientLoopIfCurrent(Runnable r, Object msg) {
        relay.onClientLoop(() -> {
            if (ch != relay.upstream()) {
                ReferenceCountUtil.release(msg);
                return;
            }
            r.run();
        });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        onClientLoopIfCurrent(() -> relay.onUpstream(msg), msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        onClientLoopIfCurrent(relay::upstreamReadComplete, null);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            onClientLoopIfCurrent(relay::upstreamWritable, null);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        onClientLoopIfCurrent(() -> relay.upstreamLost("connection closed"), null);
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        onClientLoopIfCurrent(() -> relay.upstreamLost(String.valueOf(cause.getMessage())), null);
        ctx.close();
    }
}
