package io.mailproxy.smtp;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.spi.ListenerContext;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/** A plaintext loopback listener, optionally with a fixed client. */
final class FakeListener implements ListenerContext {

    private final Optional<String> fixedClient;
    private final SslContext startTls;
    final AtomicInteger authenticated = new AtomicInteger();

    FakeListener(Optional<String> fixedClient) {
        this(fixedClient, null);
    }

    /** @param startTls when set, the listener offers STARTTLS with this context */
    FakeListener(Optional<String> fixedClient, SslContext startTls) {
        this.fixedClient = fixedClient;
        this.startTls = startTls;
    }

    @Override
    public ListenerConfig config() {
        return new ListenerConfig(Protocol.SMTP, "127.0.0.1", 1025, fixedClient, List.of(), Optional.empty());
    }

    @Override
    public boolean startTlsAvailable() {
        return startTls != null;
    }

    @Override
    public Optional<SslHandler> newServerSslHandler(Channel channel) {
        return startTls == null ? Optional.empty() : Optional.of(startTls.newHandler(channel.alloc()));
    }

    @Override
    public boolean isSecure(Channel channel) {
        return channel.pipeline().get(SslHandler.class) != null;
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
