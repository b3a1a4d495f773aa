package io.mailproxy.pop3.testing;

import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.spi.ListenerContext;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/** A plaintext listener (optionally claiming STARTTLS support without a certificate). */
public final class FakeListener implements ListenerContext {

    public final boolean startTls;
    public final AtomicInteger authenticated = new AtomicInteger();
    private final SslContext tls;

    public FakeListener(boolean startTls) {
        this(startTls, null);
    }

    /** A listener with STARTTLS backed by a real server context. */
    public FakeListener(boolean startTls, SslContext tls) {
        this.startTls = startTls;
        this.tls = tls;
    }

    @Override
    public ListenerConfig config() {
        return null;
    }

    @Override
    public boolean startTlsAvailable() {
        return startTls;
    }

    @Override
    public Optional<SslHandler> newServerSslHandler(Channel channel) {
        return tls == null ? Optional.empty() : Optional.of(tls.newHandler(channel.alloc()));
    }

    @Override
    public boolean isSecure(Channel channel) {
        return channel.pipeline().get(SslHandler.class) != null;
    }

    @Override
    public Optional<String> fixedClient() {
        return Optional.empty();
    }

    @Override
    public void authenticated(Channel channel) {
        authenticated.incrementAndGet();
    }

    @Override
    public String sessionId(Channel channel) {
        return "s1";
    }
}
