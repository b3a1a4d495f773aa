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
 * @param resource              the v1.0 {@code resource} of the preset (21Vianet): the password grant then goes to
 *                              the v1.0 token endpoint with it, see {@link #v1TokenEndpoint()}
 * @param delegatedScopesGraph  Microsoft Graph, delegated, for the mailbox's own user ({@code scopes.graph})
 * @param delegatedScopesGraphShared Graph, delegated, for a delegate on another (shared) mailbox
 *                              ({@code scopes.graph-shared}: the {@code .Shared} permissions)
 * @param appScopesGraph        Graph, app-only ({@code scopes.graph-app}: {@code https://graph.microsoft.com/.default})
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
        List<String> appScopes,
        Optional<String> resource,
        List<String> delegatedScopesGraph,
        List<String> delegatedScopesGraphShared,
        List<String> appScopesGraph) {

    public OAuth2ProviderConfig {
        delegatedScopesImap = List.copyOf(delegatedScopesImap);
        delegatedScopesPop3 = List.copyOf(delegatedScopesPop3);
        delegatedScopesSmtp = List.copyOf(delegatedScopesSmtp);
        appScopes = List.copyOf(appScopes);
        delegatedScopesGraph = List.copyOf(delegatedScopesGraph);
        delegatedScopesGraphShared = List.copyOf(delegatedScopesGraphShared);
        appScopesGraph = List.copyOf(appScopesGraph);
    }

    /** A provider without Graph scopes. */
    public OAuth2ProviderConfig(String name, Optional<String> tenant, URI tokenEndpoint, URI deviceAuthorizationEndpoint,
                                URI authorizationEndpoint, String clientId, Optional<SecretRef> clientSecret,
                                Optional<Path> certificateFile, Optional<Path> privateKeyFile, Optional<URI> redirectUri,
                                List<String> delegatedScopesImap, List<String> delegatedScopesPop3,
                                List<String> delegatedScopesSmtp, List<String> appScopes, Optional<String> resource) {
        this(name, tenant, tokenEndpoint, deviceAuthorizationEndpoint, authorizationEndpoint, clientId, clientSecret,
                certificateFile, privateKeyFile, redirectUri, delegatedScopesImap, delegatedScopesPop3,
                delegatedScopesSmtp, appScopes, resource, List.of(), List.of(), List.of());
    }

    /** A provider without a v1.0 {@code resource}. */
    public OAuth2ProviderConfig(String name, Optional<String> tenant, URI tokenEndpoint, URI deviceAuthorizationEndpoint,
                                URI authorizationEndpoint, String clientId, Optional<SecretRef> clientSecret,
                                Optional<Path> certificateFile, Optional<Path> privateKeyFile, Optional<URI> redirectUri,
                                List<String> delegatedScopesImap, List<String> delegatedScopesPop3,
                                List<String> delegatedScopesSmtp, List<String> appScopes) {
        this(name, tenant, tokenEndpoint, deviceAuthorizationEndpoint, authorizationEndpoint, clientId, clientSecret,
                certificateFile, privateKeyFile, redirectUri, delegatedScopesImap, delegatedScopesPop3,
                delegatedScopesSmtp, appScopes, Optional.empty());
    }

    /**
     * The scopes of a Microsoft Graph token: {@code scopes.graph-app} for client credentials; for a delegated grant
     * {@code scopes.graph}, or {@code scopes.graph-shared} when a delegate acts on another mailbox (a shared one).
     */
    public List<String> graphScopes(AuthConfig.Grant grant, boolean delegate) {
        if (grant == AuthConfig.Grant.CLIENT_CREDENTIALS) {
            return appScopesGraph;
        }
        return delegate ? delegatedScopesGraphShared : delegatedScopesGraph;
    }

    /**
     * The v1.0 token endpoint beside the v2.0 one ({@code .../oauth2/v2.0/token} becomes {@code .../oauth2/token});
     * a token endpoint of another shape is kept.
     */
    public URI v1TokenEndpoint() {
        String text = tokenEndpoint.toString();
        return text.endsWith("/oauth2/v2.0/token")
                ? URI.create(text.substring(0, text.length() - "/v2.0/token".length()) + "/token") : tokenEndpoint;
    }
}
