package io.mailproxy.core.credentials;

import io.mailproxy.core.config.AuthConfig;

/**
 * What a cached access token is for: provider, grant, scope and principal. An app-only (client credentials) token
 * has an empty principal, so one token serves every mailbox.
 *
 * @param scope space-separated, in configuration order
 */
public record TokenKey(String provider, AuthConfig.Grant grant, String scope, String principal) {

    @Override
    public String toString() {
        return provider + "/" + grant.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-')
                + (principal.isEmpty() ? "" : "/" + principal) + " [" + scope + "]";
    }
}
