package io.mailproxy.core.credentials;

import java.time.Instant;

/**
 * A completed interactive login: the refresh token is stored (encrypted) for {@code principal}.
 *
 * @param secretName the secret store entry that holds the refresh token
 * @param scope      the scope the provider granted
 */
public record LoginResult(String provider, String principal, String secretName, String scope,
                          Instant accessTokenExpiresAt) { }
