package io.mailproxy.core.pool;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import java.util.concurrent.CompletableFuture;

/** The pools, one per account and protocol (IMAP and SMTP; POP3 is never pooled). */
public interface UpstreamPools {

    /**
     * Leases an authenticated channel with enough token life left. Fails with
     * {@link io.mailproxy.core.upstream.UpstreamException} ({@code LIMIT_REACHED} after the bounded wait, or the
     * connector's failure).
     */
    CompletableFuture<Lease> acquire(AccountConfig account, Protocol protocol);
}
