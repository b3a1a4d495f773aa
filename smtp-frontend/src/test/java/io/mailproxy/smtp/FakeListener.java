package io.mailproxy.smtp;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.spi.ListenerContext;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/** A plaintext loopback listener, optionally with a fixed client. */
final class FakeListener implements ListenerContext {

    private final Optional<String> fixedClient;
    final AtomicInteger authenticated = new AtomicInteger();

    FakeListener(Optional<String> fixedClient) {
        this.fixedClient = fixedClient;
    }

    @Override
    public ListenerConfig config() {
        return new ListenerConfig(Protocol.SMTP, "127.0.0.1", 1025, fixedClient, List.of(), Optional.empty());
    }

    @Override
    public boolean startTlsAvailable() {
        return false;
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
        return fixedClient;
    }

    @Override
    public void authenticated(Channel channel) {
        authenticated.incrementAndGet();
    }

    @Override
    public String sessionId(Channel channel) {
        return "test-" + Integer.toHexString(System.identityHashCode(channel));
    }
}
