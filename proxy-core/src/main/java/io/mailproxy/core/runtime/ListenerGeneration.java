package io.mailproxy.core.runtime;

import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.config.ListenerTls;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.ListenerContext;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.net.InetAddress;
import java.util.Optional;

/**
 * One listener's settings as of a start or reload: a session keeps the generation it was accepted under, so a reload
 * changes what new connections get, never what a running session sees.
 */
final class ListenerGeneration implements ListenerContext {

    final ListenerConfig config;
    final InetAddress bindAddress;
    final Frontend frontend;
    /** The limits of the configuration this generation came from (daemon-wide; the newest generation's apply). */
    final LimitsConfig limits;
    private final Optional<SslContext> ssl;
    private final SessionRegistry sessions;

    ListenerGeneration(ListenerConfig config, InetAddress bindAddress, Frontend frontend, Optional<SslContext> ssl,
                       LimitsConfig limits, SessionRegistry sessions) {
        this.config = config;
        this.bindAddress = bindAddress;
        this.frontend = frontend;
        this.ssl = ssl;
        this.limits = limits;
        this.sessions = sessions;
    }

    boolean implicitTls() {
        return config.tls().map(t -> t.mode() == ListenerTls.Mode.IMPLICIT).orElse(false);
    }

    /** The SslHandler for implicit TLS (precondition: {@link #implicitTls()}). */
    SslHandler newSslHandler(Channel channel) {
        return ssl.orElseThrow().newHandler(channel.alloc());
    }

    @Override
    public ListenerConfig config() {
        return config;
    }

    @Override
    public boolean startTlsAvailable() {
        return config.tls().map(t -> t.mode() == ListenerTls.Mode.STARTTLS).orElse(false);
    }

    @Override
    public Optional<SslHandler> newServerSslHandler(Channel channel) {
        return ssl.map(context -> context.newHandler(channel.alloc()));
    }

    @Override
    public boolean isSecure(Channel channel) {
        return channel.pipeline().get(SslHandler.class) != null;
    }

    @Override
    public Optional<String> fixedClient() {
        return config.client();
    }

    @Override
    public void authenticated(Channel channel) {
        sessions.authenticated(channel);
    }

    @Override
    public String sessionId(Channel channel) {
        return SessionIds.of(channel);
    }

    @Override
    public String toString() {
        return config.describe();
    }
}
