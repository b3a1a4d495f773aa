package io.mailproxy.imap;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.ListenerContext;
import io.mailproxy.imap.codec.ImapCommandDecoder;
import io.mailproxy.imap.session.ImapSessionHandler;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.WriteBufferWaterMark;

/** Installs the IMAP codec and session on each accepted connection. */
final class ImapFrontend implements Frontend {

    static final String DECODER = "imap-decoder";

    private final CoreServices services;
    private volatile Cached cached;

    ImapFrontend(CoreServices services) {
        this.services = services;
    }

    /** Settings are read per connection from the current config (a reload replaces it), parsed once per config. */
    ImapSettings settings() {
        MailproxyConfig config = services.config();
        Cached c = cached;
        if (c == null || c.config != config) {
            Config defaults = ConfigFactory.defaultReference(ImapFrontend.class.getClassLoader()).getConfig("mailproxy.imap");
            Config section = config.raw().hasPath("imap") ? config.section("imap").withFallback(defaults) : defaults;
            c = new Cached(config, ImapSettings.from(section));
            cached = c;
        }
        return c.settings;
    }

    @Override
    public void initChannel(Channel channel, ListenerContext listener) {
        ImapSettings settings = settings();
        channel.config().setAutoRead(false);
        // replies are read from the client only while it takes them: bounded by these marks (Netty's defaults, explicit)
        channel.config().setWriteBufferWaterMark(new WriteBufferWaterMark(32 * 1024, 64 * 1024));
        ImapCommandDecoder decoder = new ImapCommandDecoder(settings.maxLineLength(), settings.maxLiteralBeforeLogin());
        channel.pipeline().addLast(DECODER, decoder);
        channel.pipeline().addLast(ImapSessionHandler.NAME, new ImapSessionHandler(services, listener, settings, decoder));
    }

    /** Turned away before a session starts: the greeting is a BYE (RFC 3501 section 7.1.5). */
    @Override
    public void refuse(Channel channel, String reason) {
        String text = reason.replaceAll("[\\r\\n]", " ");
        channel.writeAndFlush(ByteBufUtil.writeAscii(channel.alloc(), "* BYE [UNAVAILABLE] " + text + "\r\n"))
                .addListener(ChannelFutureListener.CLOSE);
    }

    private record Cached(MailproxyConfig config, ImapSettings settings) { }
}
