package io.mailproxy.core.runtime;

import io.mailproxy.core.spi.EvictionEvent;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.ListenerContext;
import io.mailproxy.core.spi.ShutdownEvent;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A line-based fake protocol: greets with "+OK NAME SESSIONID secure=BOOL", answers LOGIN (tells the runtime),
 * STARTTLS, QUIT, and echoes anything else. Says "* BYE NAME shutting down" on shutdown and "* BYE NAME evicted"
 * when evicted, unless told to ignore both;
 * refuses with "-ERR NAME REASON".
 */
final class LineFrontend implements Frontend {

    private static final Logger log = LoggerFactory.getLogger(LineFrontend.class);

    private final String name;
    private final boolean ignoreGoodbye;

    LineFrontend(String name) {
        this(name, false);
    }

    LineFrontend(String name, boolean ignoreGoodbye) {
        this.name = name;
        this.ignoreGoodbye = ignoreGoodbye;
    }

    @Override
    public void initChannel(Channel channel, ListenerContext listener) {
        channel.pipeline().addLast(new LineBasedFrameDecoder(1000), new StringDecoder(StandardCharsets.US_ASCII),
                new StringEncoder(StandardCharsets.US_ASCII), new Session(listener));
    }

    @Override
    public void refuse(Channel channel, String reason) {
        channel.writeAndFlush(Unpooled.copiedBuffer("-ERR " + name + " " + reason + "\r\n", StandardCharsets.US_ASCII))
                .addListener(ChannelFutureListener.CLOSE);
    }

    private final class Session extends SimpleChannelInboundHandler<String> {
        private final ListenerContext listener;

        Session(ListenerContext listener) {
            this.listener = listener;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            log.info("greeting");
            ctx.writeAndFlush("+OK " + name + " " + listener.sessionId(ctx.channel()) + " secure="
                    + listener.isSecure(ctx.channel()) + "\r\n");
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, String line) {
            log.info("got line {}", line);
            switch (line) {
                case "LOGIN" -> {
                    listener.authenticated(ctx.channel());
                    ctx.writeAndFlush("+OK logged in\r\n");
                }
                case "STARTTLS" -> {
                    ctx.writeAndFlush("+OK begin TLS\r\n").addListener(f ->
                            ctx.pipeline().addFirst("tls", listener.newServerSslHandler(ctx.channel()).orElseThrow()));
                }
                case "SECURE?" -> ctx.writeAndFlush("+OK secure=" + listener.isSecure(ctx.channel()) + "\r\n");
                case "THROW" -> throw new IllegalStateException("boom");
                case "QUIT" -> ctx.writeAndFlush("+OK bye\r\n").addListener(ChannelFutureListener.CLOSE);
                default -> ctx.writeAndFlush("echo " + line + "\r\n");
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ShutdownEvent && !ignoreGoodbye) {
                log.info("saying goodbye");
                ctx.writeAndFlush("* BYE " + name + " shutting down\r\n").addListener(ChannelFutureListener.CLOSE);
            }
            if (evt instanceof EvictionEvent && !ignoreGoodbye) {
                ctx.writeAndFlush("* BYE " + name + " evicted\r\n").addListener(ChannelFutureListener.CLOSE);
            }
            ctx.fireUserEventTriggered(evt);
        }
    }
}
