package io.mailproxy.core.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * An OAuth 2.0 client registration at an identity provider.
 *
 * @param tenant                Microsoft tenant (with the Microsoft authority); empty when endpoints are given
 * @param clientSecret          a literal or {@code secret:NAME}; empty for public clients or certificate auth
 * @param certificateFile       PEM certificate for private_key_jwt client assertions
 * @param privateKeyFile        PEM private key for private_key_jwt client assertions
 * @param redirectUri           redirect for the authorization-code flow ({@code http://localhost:PORT/...})
 */
public record OAuth2ProviderConfig(
        String name,
        Optional<String> tenant,
        URI tokenEndpoint,
        URI deviceAuthorizationEndpoint,
        URI authorizationEndpoint,
        String clientId,
        Optional<SecretRef> clientSecret,
        Optional<Path> certificateFile,
        Optional<Path> privateKeyFile,
        Optional<URI> redirectUri,
        List<String> delegatedScopesImap,
        List<String> delegatedScopesPop3,
        List<String> delegatedScopesSmtp,
        List<String> appScopes) {

    public OAuth2ProviderConfig {
        delegatedScopesImap = List.copyOf(delegatedScopesImap);
        delegatedScopesPop3 = List.copyOf(delegatedScopesPop3);
        delegatedScopesSmtp = List.copyOf(delegatedScopesSmtp);
        appScopes = List.copyOf(appScopes);
    }
}
