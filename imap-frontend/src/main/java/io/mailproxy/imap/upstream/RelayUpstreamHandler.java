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
    private final Channel client;
    private final RelayClientHandler clientSide;

    RelayUpstreamHandler(ImapRelay relay, Channel ch, Channel client, RelayClientHandler clientSide) {
        this.relay = relay;
        this.ch = ch;
        this.client = client;
        this.clientSide = clientSide;
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
        onClientLoopIfCurrent(() -> {
            if (!relay.ended()) {
                client.flush();
                if (client.isWritable()) {
                    ch.read(); // the upstream is read only while the client takes what it sends
                }
            }
        }, null);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            onClientLoopIfCurrent(() -> {
                if (!relay.ended() && !relay.paused() && clientSide.caughtUp() && client.isWritable()) {
                    client.read();
                }
            }, null);
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
