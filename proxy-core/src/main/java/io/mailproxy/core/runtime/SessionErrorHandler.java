package io.mailproxy.core.runtime;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import java.io.IOException;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last handler of a client pipeline: an exception no frontend handler dealt with is logged once (network errors
 * and failed TLS handshakes at debug, anything else at warn) and the connection is closed.
 */
@ChannelHandler.Sharable
final class SessionErrorHandler extends ChannelInboundHandlerAdapter {

    static final SessionErrorHandler INSTANCE = new SessionErrorHandler();
    private static final Logger log = LoggerFactory.getLogger(SessionErrorHandler.class);

    private SessionErrorHandler() { }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof IOException) {
            log.debug("connection error: {}", cause.toString());
        } else if (cause instanceof DecoderException && cause.getCause() instanceof SSLException) {
            log.debug("TLS failed: {}", cause.getCause().toString());
        } else {
            log.warn("unexpected error; closing the connection", cause);
        }
        ctx.close();
    }
}
