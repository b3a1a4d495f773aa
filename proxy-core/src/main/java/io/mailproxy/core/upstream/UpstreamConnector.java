package io.mailproxy.core.upstream;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.netty.channel.EventLoop;
import java.util.concurrent.CompletableFuture;

/**
 * Opens an authenticated upstream connection for an account: TCP, TLS (implicit or STARTTLS), greeting,
 * capabilities, SASL, and a NOOP check. Fails with {@link UpstreamException}.
 */
public interface UpstreamConnector {

    /**
     * @param eventLoop the loop the new channel is registered on (the client's, for unpooled use); may be null to
     *                  let the connector choose
     */
    CompletableFuture<UpstreamSession> connect(AccountConfig account, Protocol protocol, EventLoop eventLoop);

    /** The upstream ended a session over its token: the next connection logs in with a fresh one. */
    default void tokenRejected(AccountConfig account, Protocol protocol) {
    }
}
