package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.util.Map;

/**
 * An upstream mailbox and how to log in to it.
 *
 * @param name    the key in {@code accounts}
 * @param mailbox the XOAUTH2 {@code user=} / login name upstream (defaults to the key)
 * @param from    address for sender rewriting (defaults to the mailbox)
 * @param pools   per-protocol pool settings (IMAP and SMTP; POP3 is never pooled)
 */
public record AccountConfig(
        String name,
        String mailbox,
        String upstream,
        AuthConfig auth,
        String from,
        Map<Protocol, PoolConfig> pools) {

    public AccountConfig {
        pools = Map.copyOf(pools);
    }

    /**
     * Whether a delegate signs in for this mailbox (a delegated grant whose {@code principal} is another address, a
     * shared mailbox's delegate): Microsoft Graph then needs the {@code .Shared} permissions,
     * {@link OAuth2ProviderConfig#graphScopes}.
     */
    public boolean delegate() {
        return auth instanceof AuthConfig.OAuth2 o && o.principal().isPresent()
                && !o.principal().get().equalsIgnoreCase(mailbox);
    }

    public PoolConfig pool(Protocol protocol) {
        return pools.getOrDefault(protocol, PoolConfig.NOT_POOLED);
    }
}
