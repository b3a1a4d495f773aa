package io.mailproxy.pop3.session;

import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.ListenerContext;
import io.mailproxy.pop3.Pop3Settings;
import io.mailproxy.pop3.codec.Pop3CommandDecoder;
import io.mailproxy.pop3.codec.Pop3ResponseEncoder;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.timeout.IdleStateHandler;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/** The POP3 server side: one pipeline per client connection. */
public final class Pop3Frontend implements Frontend {

    static final String IDLE = "pop3-idle";
    static final String DECODER = "pop3-decoder";
    static final String ENCODER = "pop3-encoder";
    static final String SESSION = "pop3-session";

    private final CoreServices services;
    private volatile Cached cached;

    /** @throws io.mailproxy.core.config.ConfigException when {@code mailproxy.pop3} is invalid (at start-up and reload) */
    public Pop3Frontend(CoreServices services) {
        this.services = services;
        settings();
    }

    private record Cached(MailproxyConfig config, Pop3Settings settings) { }

    /** The settings of the current configuration (a reload replaces it; parsed once per configuration). */
    Pop3Settings settings() {
        MailproxyConfig config = services.config();
        Cached c = cached;
        if (c == null || c.config != config) {
            Pop3Settings s = config.raw() != null && config.raw().hasPath("pop3")
                    ? Pop3Settings.from(config.section("pop3"))
                    : Pop3Settings.defaults();
            c = new Cached(config, s);
            cached = c;
        }
        return c.settings;
    }

    @Override
    public void initChannel(Channel channel, ListenerContext listener) {
        Pop3Settings settings = settings();
        channel.config().setAutoRead(false);
        ChannelPipeline p = channel.pipeline();
        p.addLast(IDLE, new IdleStateHandler(0, 0, settings.idleTimeout().toMillis(), TimeUnit.MILLISECONDS));
        p.addLast(DECODER, newDecoder(settings));
        p.addLast(ENCODER, new Pop3ResponseEncoder());
        p.addLast(SESSION, new Pop3SessionHandler(services, listener, settings));
    }

    /** RFC 2449 / 3206: {@code -ERR [SYS/TEMP] reason}, then close. */
    @Override
    public void refuse(Channel channel, String reason) {
        String line = "-ERR [SYS/TEMP] " + reason.replace('\r', ' ').replace('\n', ' ') + "\r\n";
        channel.writeAndFlush(Unpooled.copiedBuffer(line, StandardCharsets.US_ASCII))
                .addListener(ChannelFutureListener.CLOSE);
    }

    static Pop3CommandDecoder newDecoder(Pop3Settings settings) {
        return new Pop3CommandDecoder(settings.maxLineLength(), settings.abusiveLineLength());
    }
}
