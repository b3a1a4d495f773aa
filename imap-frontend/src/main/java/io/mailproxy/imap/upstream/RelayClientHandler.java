package io.mailproxy.imap.upstream;

import io.mailproxy.core.spi.ShutdownEvent;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.List;

/**
 * The relay's handler on the client channel (after the command decoder), and the client side's flow control: what
 * the client sends while the session holds its input (a literal gate, IDLE not yet confirmed, a hand-over, LOGOUT)
 * waits in a backlog, in order, and the client is read from (AUTO_READ is off) only when nothing is held and both
 * sides are writable, so neither side's outbound buffer grows without bound.
 */
final class RelayClientHandler extends ChannelInboundHandlerAdapter {

    private final ImapRelay relay;
    private final Channel client;
    private final ArrayDeque<Object> backlog = new ArrayDeque<>();
    private boolean draining;

    RelayClientHandler(ImapRelay relay, Channel client, List<Object> pending) {
        this.relay = relay;
        this.client = client;
        backlog.addAll(pending);
    }

    /** A decoded message from the client: handled now, or held behind what is held already. */
    private void offer(Object msg) {
        if (relay.ended()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (relay.paused() || !backlog.isEmpty() && !draining) {
            backlog.add(msg);
            return;
        }
        relay.dispatch(msg);
    }

    /** Nothing of the client's is held back. */
    boolean caughtUp() {
        return backlog.isEmpty();
    }

    /** Hands over what was held, as far as the session lets it; then reads on if nothing holds the client back. */
    void drain() {
        draining = true;
        try {
            while (!backlog.isEmpty() && !relay.paused() && !relay.ended()) {
                offer(backlog.poll());
            }
        } finally {
            draining = false;
        }
        if (relay.ended()) {
            release();
        } else if (backlog.isEmpty() && !relay.paused()) {
            relay.upstream().flush();
            if (mayRead()) {
                client.read();
            }
        }
    }

    private boolean mayRead() {
        return !relay.paused() && backlog.isEmpty() && relay.upstream().isWritable() && client.isWritable();
    }

    /** The session ended: what was held is dropped. */
    void release() {
        backlog.forEach(ReferenceCountUtil::release);
        backlog.clear();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        offer(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (relay.ended()) {
            return;
        }
        relay.upstream().flush();
        ctx.flush();
        if (mayRead()) {
            ctx.read(); // neither side's outbound buffer grows without bound
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable() && !relay.ended()) {
            relay.upstream().read();
            if (!relay.paused() && backlog.isEmpty() && relay.upstream().isWritable()) {
                ctx.read(); // a client that did not read its replies is read from again
            }
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ShutdownEvent) {
            relay.shutdown();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        relay.clientGone();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        relay.clientFailed(cause);
        ctx.close();
    }
}
