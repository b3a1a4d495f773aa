package io.mailproxy.core.spi;

import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.graph.GraphMail;
import io.mailproxy.core.identity.LocalAuthenticator;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/** What core offers a frontend. Everything time- or thread-related is injected (DESIGN rule 8). */
public interface CoreServices {

    /** The current configuration; a reload replaces it, so read it per session, not once. */
    MailproxyConfig config();

    /** Local client identities (Argon2id), off the event loop. */
    LocalAuthenticator authenticator();

    /** Pools of authenticated upstream connections, per account and protocol. */
    UpstreamPools pools();

    /** Unpooled upstream connections (POP3 pass-through). */
    UpstreamConnector connector();

    /**
     * Microsoft Graph's mail API, for accounts whose upstream has a {@code graph} URL (SMTP with
     * {@code send-with = graph}, POP3 with {@code source = graph}).
     */
    default GraphMail graph() {
        throw new UnsupportedOperationException("Microsoft Graph is not available in this process");
    }

    MeterRegistry meters();

    Clock clock();

    /** For blocking work (fsync, file I/O); never the event loop. */
    Executor blockingExecutor();

    /** For timers that are not tied to a channel (a channel's own timers use its event loop). */
    ScheduledExecutorService scheduler();
}
