package io.mailproxy.smtp;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamSession;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.codec.SmtpReplyDecoder;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.InetAddress;
import java.util.HashSet;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Pools that open a fresh connection to {@link FakeUpstream} per lease (greeting and EHLO done, the way the
 * connector hands a session over: AUTO_READ off, no handlers left) and count how leases end.
 */
final class FakePools implements UpstreamPools {

    private final EventLoopGroup group;
    private final int port;
    volatile UpstreamException failWith;

    final AtomicInteger acquired = new AtomicInteger();
    final AtomicInteger released = new AtomicInteger();
    final AtomicInteger releasedDirty = new AtomicInteger();
    final AtomicInteger discarded = new AtomicInteger();
    /** Released with the session's handlers still on, or AUTO_READ on: a breach of the Lease contract. */
    final AtomicInteger releasedUnclean = new AtomicInteger();

    FakePools(EventLoopGroup group, int port) {
        this.group = group;
        this.port = port;
    }

    int ended() {
        return released.get() + releasedDirty.get() + discarded.get();
    }

    @Override
    public CompletableFuture<Lease> acquire(AccountConfig account, Protocol protocol) {
        CompletableFuture<Lease> result = new CompletableFuture<>();
        if (failWith != null) {
            result.completeExceptionally(failWith);
            return result;
        }
        Set<String> caps = new HashSet<>();
        String[] greeting = new String[1];
        new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("hs-decoder", new SmtpReplyDecoder());
                        ch.pipeline().addLast("hs", new SimpleChannelInboundHandler<SmtpReply>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, SmtpReply reply) {
                                if (greeting[0] == null) {
                                    greeting[0] = reply.oneLine();
                                    ctx.writeAndFlush(ByteBufUtil.writeAscii(ctx.alloc(), "EHLO proxy.test\r\n"));
                                    return;
                                }
                                for (String l : reply.lines().subList(1, reply.lines().size())) {
                                    caps.add(l.toUpperCase(Locale.ROOT));
                                }
                                ctx.channel().config().setOption(ChannelOption.AUTO_READ, false);
                                ctx.pipeline().remove("hs-decoder");
                                ctx.pipeline().remove(this);
                                acquired.incrementAndGet();
                                result.complete(new FakeLease(new UpstreamSession(Protocol.SMTP, ctx.channel(),
                                        greeting[0], caps, Optional.empty())));
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                result.completeExceptionally(new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR,
                                        cause.toString()));
                                ctx.close();
                            }
                        });
                    }
                })
                .connect(InetAddress.getLoopbackAddress(), port).addListener(f -> {
                    if (!f.isSuccess()) {
                        result.completeExceptionally(new UpstreamException(UpstreamException.Kind.UNREACHABLE,
                                "connect failed"));
                    }
                });
        return result;
    }

    private final class FakeLease implements Lease {
        private final UpstreamSession session;
        private final AtomicInteger ended = new AtomicInteger();

        FakeLease(UpstreamSession session) {
            this.session = session;
        }

        @Override
        public UpstreamSession session() {
            return session;
        }

        @Override
        public void release(boolean dirty) {
            if (ended.getAndIncrement() > 0) {
                return;
            }
            Channel ch = session.channel();
            if (dirty) {
                releasedDirty.incrementAndGet();
                ch.close();
                return;
            }
            if (ch.pipeline().get("smtp-upstream") != null || ch.pipeline().get("smtp-reply-decoder") != null
                    || ch.config().isAutoRead()) {
                releasedUnclean.incrementAndGet();
            }
            released.incrementAndGet();
            // a real pool would send RSET and keep it; here the connection just ends politely
            ch.writeAndFlush(ByteBufUtil.writeAscii(ch.alloc(), "QUIT\r\n")).addListener(f -> ch.close());
        }

        @Override
        public void discard() {
            if (ended.getAndIncrement() > 0) {
                return;
            }
            discarded.incrementAndGet();
            session.channel().close();
        }
    }
}
