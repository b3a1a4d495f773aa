package io.mailproxy.core.spi;

import io.mailproxy.core.config.ListenerConfig;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import java.util.Optional;

/** What a frontend knows about the listener a connection came in on. */
public interface ListenerContext {

    ListenerConfig config();

    /** True when local TLS is configured with mode starttls: offer STARTTLS / STLS. */
    boolean startTlsAvailable();

    /** A server-side SslHandler for STARTTLS; empty when the listener has no local TLS. */
    Optional<SslHandler> newServerSslHandler(Channel channel);

    /** True when the connection is protected by local TLS (implicit, or after STARTTLS). */
    boolean isSecure(Channel channel);

    /** The fixed client of this listener ({@code client = "..."}): connections need no AUTH. */
    Optional<String> fixedClient();

    /** Tells the runtime the session logged in, so it no longer counts against the pre-login limit. */
    void authenticated(Channel channel);

    /** The session id used in this connection's log lines (also in the SLF4J MDC key {@code session}). */
    String sessionId(Channel channel);
}
