package io.mailproxy.testkit.core;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.spi.ListenerContext;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * A plaintext loopback listener of one protocol: optionally with a fixed client, and offering STARTTLS (with a real
 * server context, a given handler, or only claimed). Records the sessions that told it they logged in.
 */
public final class FakeListener implements ListenerContext {

    private final Protocol protocol;
    private volatile Optional<String> fixedClient = Optional.empty();
    private volatile SslContext tls;
    private volatile Function<Channel, String> sessionIds = channel -> "s1";
    /** Offer STARTTLS / STLS (set by {@link #startTls(SslContext)}; alone, claimed without a certificate). */
    public volatile boolean startTls;
    /** When set, the handler STARTTLS inserts (instead of one from the context). */
    public volatile SslHandler ssl;
    /** The channels that called {@link #authenticated}, in order. */
    public final List<Channel> authenticated = new CopyOnWriteArrayList<>();

    public FakeListener(Protocol protocol) {
        this.protocol = protocol;
    }

    /** The listener's fixed client ({@code client = "..."}): connections need no AUTH. */
    public FakeListener fixedClient(String login) {
        this.fixedClient = Optional.of(login);
        return this;
    }

    /** Offers STARTTLS with handlers from this server context. */
    public FakeListener startTls(SslContext context) {
        this.tls = context;
        this.startTls = true;
        return this;
    }

    /** Claims STARTTLS (or not) without a certificate: the upgrade itself then fails. */
    public FakeListener startTls(boolean offered) {
        this.startTls = offered;
        return this;
    }

    /** How session ids are made (default: "s1" for every channel). */
    public FakeListener sessionIds(Function<Channel, String> ids) {
        this.sessionIds = ids;
        return this;
    }

    @Override
    public ListenerConfig config() {
        int port = switch (protocol) {
            case IMAP -> 1143;
            case POP3 -> 1110;
            case SMTP -> 1025;
        };
        return new ListenerConfig(protocol, "127.0.0.1", port, fixedClient, List.of(), Optional.empty());
    }

    @Override
    public boolean startTlsAvailable() {
        return startTls;
    }

    @Override
    public Optional<SslHandler> newServerSslHandler(Channel channel) {
        if (ssl != null) {
            return Optional.of(ssl);
        }
        SslContext context = tls;
        return context == null ? Optional.empty() : Optional.of(context.newHandler(channel.alloc()));
    }

    @Override
    public boolean isSecure(Channel channel) {
        return channel.pipeline().get("tls") != null || channel.pipeline().get(SslHandler.class) != null;
    }

    @Override
    public Optional<String> fixedClient() {
        return fixedClient;
    }

    @Override
    public void authenticated(Channel channel) {
        authenticated.add(channel);
    }

    @Override
    public String sessionId(Channel channel) {
        return sessionIds.apply(channel);
    }
}
