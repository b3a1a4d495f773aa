package io.mailproxy.smtp.session;

import io.mailproxy.core.runtime.ClientAddress;
import io.mailproxy.smtp.codec.SmtpCommand;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.ssl.SslHandler;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * STARTTLS (RFC 3207). Whether it is offered is checked before the state: outside a transaction only, and nothing
 * learnt before TLS (EHLO, the login unless the listener's client is fixed) counts after it.
 */
final class StartTlsCommand implements Command {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);

    @Override
    public void handle(SmtpSession s, SmtpCommand cmd) {
        ChannelHandlerContext ctx = s.ctx();
        if (!offered(s)) {
            s.error(s.listener.isSecure(ctx.channel()) ? SmtpReplies.TLS_ACTIVE : SmtpReplies.STARTTLS_NOT_AVAILABLE);
            return;
        }
        if (!cmd.argument().isEmpty()) {
            s.error(SmtpReplies.STARTTLS_SYNTAX);
            return;
        }
        if (s.state() == SmtpState.MAIL) {
            s.error(SmtpReplies.STARTTLS_IN_MAIL);
            return;
        }
        Optional<SslHandler> ssl = s.listener.newServerSslHandler(ctx.channel());
        if (ssl.isEmpty()) {
            s.error(SmtpReplies.TLS_TEMPORARY);
            return;
        }
        // Nothing the client pipelined behind STARTTLS may count (RFC 3207 5, CVE-2011-0411).
        s.decoder.pause();
        s.decoder.discardBuffered();
        s.waitFor(SessionWait.TLS_REPLY);
        ctx.writeAndFlush(ByteBufUtil.writeAscii(ctx.alloc(), SmtpReplies.READY_FOR_TLS + "\r\n")).addListener(f -> {
            s.waitFor(SessionWait.NOTHING);
            if (s.state() == SmtpState.CLOSED) {
                return;
            }
            if (!f.isSuccess()) {
                // Reading stays paused and the client cannot know whether TLS starts: nothing can go on. Left open,
                // the session would sit unread until the idle timer.
                log.debug("[{}] the reply to STARTTLS could not be sent ({}); closing", s.sid(), f.cause().toString());
                ctx.close();
                return;
            }
            ctx.pipeline().addFirst("tls", ssl.get());
            // RFC 3207 4.2: forget everything learnt before TLS
            s.state(SmtpState.CONNECTED);
            s.esmtp(false);
            if (s.listener.fixedClient().isEmpty()) {
                s.login(null);
            }
            s.decoder.discardBuffered();
            s.proceed();
        });
    }

    /** STARTTLS is offered: the listener has TLS, and it is not active yet. */
    static boolean offered(SmtpSession s) {
        return s.listener.startTlsAvailable() && !s.listener.isSecure(s.ctx().channel());
    }

    /** RFC 3207 4, RFC 4954 4: a listener that offers STARTTLS takes passwords in plaintext only from loopback. */
    static boolean requiredForAuth(SmtpSession s) {
        return offered(s) && !(ClientAddress.of(s.ctx().channel()) instanceof java.net.InetSocketAddress remote
                && remote.getAddress() != null && remote.getAddress().isLoopbackAddress());
    }
}
