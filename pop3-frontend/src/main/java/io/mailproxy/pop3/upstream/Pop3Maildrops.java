package io.mailproxy.pop3.upstream;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.pop3.Pop3Settings;
import io.netty.channel.Channel;
import java.util.concurrent.CompletableFuture;

/** Opens the maildrop a client's {@code pop3.source} names. */
public final class Pop3Maildrops {

    private Pop3Maildrops() { }

    /**
     * Connects upstream for a logged-in client. The future completes on any thread, with the maildrop already wired
     * to {@code client}; it fails with {@link io.mailproxy.core.upstream.UpstreamException} or
     * {@link Pop3ReplyException}.
     */
    public static CompletableFuture<Pop3Maildrop> open(
            CoreServices services, LocalLogin.Accepted login, Channel client, Pop3Settings settings, String sessionId) {
        Pop3Policy policy = login.client().pop3();
        String account = login.account().name();
        if (policy.source() == Pop3Policy.Source.POP3) {
            return services.connector().connect(login.account(), Protocol.POP3, client.eventLoop())
                    .thenApply(session -> PassThroughBridge.attach(client, session, sessionId, account));
        }
        if (policy.source() == Pop3Policy.Source.GRAPH) {
            return GraphMaildrop.open(services, login, client, settings.maxMessages(), sessionId);
        }
        return ImapMaildrop.open(services, login, client, settings, sessionId);
    }
}
