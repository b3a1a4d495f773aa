package io.mailproxy.core.credentials;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import java.util.concurrent.CompletableFuture;

/**
 * What the connector logs in with: an XOAUTH2 token or a password. Completes off the event loop; fails with
 * {@link io.mailproxy.core.upstream.UpstreamException} of kind {@code CREDENTIALS_UNAVAILABLE} when the token
 * endpoint is down, a refresh token is missing, or a secret is not stored.
 */
public interface UpstreamCredentials {

    sealed interface Login {
        /** SASL XOAUTH2 as {@code user}. */
        record Bearer(String user, AccessToken token) implements Login {
            @Override
            public String toString() {
                return "Bearer[" + user + ", " + token + "]";
            }
        }

        /** SASL PLAIN / LOGIN. */
        record Password(String user, String password) implements Login {
            @Override
            public String toString() {
                return "Password[" + user + ", ****]";
            }
        }
    }

    CompletableFuture<Login> loginFor(AccountConfig account, Protocol protocol);

    /** The upstream rejected the token: drop it from the cache so the next login fetches a new one. */
    default void invalidate(AccountConfig account, Protocol protocol) { }

    /**
     * An access token for Microsoft Graph at {@code graphBase} ({@link GraphScopes}); fails as {@link #loginFor} does,
     * and with {@code CREDENTIALS_UNAVAILABLE} for an account that logs in with a password (Graph takes only OAuth).
     */
    default CompletableFuture<AccessToken> graphToken(AccountConfig account, java.net.URI graphBase) {
        return CompletableFuture.failedFuture(new io.mailproxy.core.upstream.UpstreamException(
                io.mailproxy.core.upstream.UpstreamException.Kind.CREDENTIALS_UNAVAILABLE,
                "account " + account.name() + ": no Graph tokens in this credential source"));
    }

    /** Graph refused the token (401): drop it so the next request fetches a new one. */
    default void invalidateGraph(AccountConfig account, java.net.URI graphBase) { }
}
