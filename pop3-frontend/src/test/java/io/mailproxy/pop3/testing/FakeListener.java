package io.mailproxy.pop3.testing;

import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.spi.ListenerContext;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/** A plaintext listener (optionally claiming STARTTLS support without a certificate). */
public final class FakeListener implements ListenerContext {

    public final boolean startTls;
    public final AtomicInteger authenticated = new AtomicInteger();

    public FakeListener(boolean startTls) {
        this.startTls = startTls;
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
        return Optional.empty();
    }

    @Override
    public boolean isSecure(Channel channel) {
        return false;
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
