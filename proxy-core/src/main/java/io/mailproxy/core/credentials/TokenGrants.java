package io.mailproxy.core.credentials;

import com.nimbusds.oauth2.sdk.AuthorizationGrant;
import com.nimbusds.oauth2.sdk.ClientCredentialsGrant;
import com.nimbusds.oauth2.sdk.RefreshTokenGrant;
import com.nimbusds.oauth2.sdk.ResourceOwnerPasswordCredentialsGrant;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.token.RefreshToken;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The token request each grant sends (client credentials, ROPC, refresh token), and the stored refresh token's
 * redemption and rotation into the secret store. Blocking (HTTP, file I/O): runs on the token service's executor.
 */
final class TokenGrants {
    private static final Logger LOG = LoggerFactory.getLogger(TokenService.class);

    private final SecretStore store;
    private final TokenEndpointClient client;
    /** One lock per stored refresh token (by its secret name): redemptions of one token never overlap. */
    private final ConcurrentMap<String, Object> refreshLocks = new ConcurrentHashMap<>();

    TokenGrants(SecretStore store, TokenEndpointClient client) {
        this.store = store;
        this.client = client;
    }

    /** A new token for {@code key}; {@code pw} is the ROPC password (password grant only). */
    TokenEndpointClient.Issued fetch(TokenKey key, OAuth2ProviderConfig p, Optional<SecretRef> pw)
            throws TokenException {
        Scope scope = key.scope().isEmpty() ? null : Scope.parse(key.scope());
        switch (key.grant()) {
            case CLIENT_CREDENTIALS -> {
                return client.token(p, new ClientCredentialsGrant(), scope, "");
            }
            case PASSWORD -> {
                SecretRef ref = pw.orElseThrow(() -> new TokenException(TokenException.Reason.CONFIGURATION,
                        "the password grant for " + key.principal() + " has no password configured"));
                String secret = client.resolve(ref, "password of " + key.principal());
                AuthorizationGrant grant = new ResourceOwnerPasswordCredentialsGrant(key.principal(), new Secret(secret));
                return client.token(p, grant, scope, key.principal());
            }
            case REFRESH_TOKEN -> {
                String name = TokenService.refreshTokenName(p.name(), key.principal());
                // One redemption at a time per stored refresh token, read again under the lock: the IMAP, POP3
                // and SMTP scopes of one principal share it, and an identity provider that detects reuse of a
                // rotated token would revoke the whole family if two were redeemed at once.
                synchronized (refreshLocks.computeIfAbsent(name, n -> new Object())) {
                    return redeemStored(p, key, scope, name);
                }
            }
            default -> throw new IllegalStateException(key.grant().toString());
        }
    }

    private TokenEndpointClient.Issued redeemStored(OAuth2ProviderConfig p, TokenKey key, Scope scope, String name)
            throws TokenException {
        String stored;
        try {
            stored = store.get(name).orElse(null);
        } catch (SecretStoreException e) {
            throw new TokenException(TokenException.Reason.SECRET_MISSING, e.getMessage(), null, List.of(), e);
        }
        if (stored == null) {
            throw new TokenException(TokenException.Reason.REFRESH_TOKEN_MISSING, "no refresh token stored"
                    + " for " + key.principal() + " at provider " + p.name() + " (secret '" + name + "')");
        }
        TokenEndpointClient.Issued issued = client.token(p, new RefreshTokenGrant(new RefreshToken(stored)),
                scope, key.principal());
        rotate(name, stored, issued.refreshToken());
        return issued;
    }

    private void rotate(String name, String old, Optional<String> rotated) {
        if (rotated.isEmpty() || rotated.get().equals(old)) {
            return;
        }
        try {
            if (store instanceof FileSecretStore file) {
                // compare-and-set: a login that stored a newer token meanwhile wins
                if (!file.replace(name, old, rotated.get())) {
                    LOG.info("refresh token {} changed during a refresh (a login?); keeping the newer one", name);
                }
            } else {
                store.put(name, rotated.get());
            }
            LOG.debug("refresh token {} rotated", name);
        } catch (SecretStoreException e) {
            // the old token may already be invalid: say so loudly, but the access token is still good
            LOG.error("could not store the rotated refresh token {}: {}", name, e.getMessage());
        }
    }
}
