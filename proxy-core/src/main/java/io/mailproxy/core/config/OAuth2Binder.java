package io.mailproxy.core.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Binds one entry of {@code oauth2}: the identity provider's endpoints (derived from a preset and tenant, or from a
 * token endpoint), the app registration's client id and credentials, and the scopes per protocol.
 */
final class OAuth2Binder {

    /** The scope lists of a preset and of an oauth2 entry: per mail protocol, app-only, and Microsoft Graph's. */
    static final List<String> SCOPE_KEYS = List.of("imap", "pop3", "smtp", "app", "graph", "graph-shared", "graph-app");

    private OAuth2Binder() {
    }

    static OAuth2ProviderConfig bind(Node n, String name, Map<String, Preset> presets) {
        Optional<Preset> preset = UpstreamBinder.presetRef(n, presets);
        Optional<String> tenant = n.optString("tenant", "a tenant domain or GUID");
        if (preset.isEmpty() && tenant.isPresent()) {
            preset = Optional.ofNullable(presets.get("office365"));
        }
        if (tenant.isEmpty() && preset.isPresent()) {
            tenant = preset.get().tenant();
        }
        Optional<String> authority = preset.flatMap(Preset::authority).map(a -> a.replaceAll("/+$", ""));
        if (preset.isPresent() && tenant.isEmpty() && !n.isSet("token-endpoint")) {
            throw n.missing("tenant", "tenant = \"contoso.onmicrosoft.com\" (your directory's domain or id)");
        }
        String base = authority.isPresent() && tenant.isPresent()
                ? authority.get() + "/" + tenant.get() + "/oauth2/v2.0/" : null;
        URI token = n.url("token-endpoint", base == null ? null : base + "token", null);
        if (token == null) {
            throw n.missing("token-endpoint", "tenant = \"...\" for Microsoft, or token-endpoint = \"https://...\""
                    + " for another identity provider");
        }
        String derivedBase = token.toString().endsWith("/token")
                ? token.toString().substring(0, token.toString().length() - "token".length()) : null;
        String deviceDefault = base != null ? base + "devicecode" : derivedBase == null ? null : derivedBase
                + "devicecode";
        String authorizeDefault = base != null ? base + "authorize" : derivedBase == null ? null : derivedBase
                + "authorize";
        URI device = n.url("device-authorization-endpoint", deviceDefault, null);
        URI authorize = n.url("authorization-endpoint", authorizeDefault, null);
        if (device == null) {
            throw n.missing("device-authorization-endpoint", "an https:// URL (it cannot be derived from a "
                    + "token-endpoint that does not end in /token)");
        }
        if (authorize == null) {
            throw n.missing("authorization-endpoint", "an https:// URL (it cannot be derived from a "
                    + "token-endpoint that does not end in /token)");
        }
        String clientId = n.string("client-id", "the application (client) id of the app registration");
        Optional<SecretRef> secret = n.optString("client-secret", "a secret or \"secret:NAME\"").map(SecretRef::parse);
        Optional<Path> cert = n.optFilePath("certificate-file");
        Optional<Path> key = n.optFilePath("private-key-file");
        if (cert.isPresent() != key.isPresent()) {
            String missing = cert.isPresent() ? "private-key-file" : "certificate-file";
            throw n.missing(missing, "certificate-file and private-key-file together (PEM) for private_key_jwt");
        }
        Optional<URI> redirect = Optional.ofNullable(n.url("redirect-uri", null, "localhost"));
        Preset scopesFrom = preset.orElse(presets.get("office365"));
        Map<String, List<String>> scopes = new LinkedHashMap<>();
        for (String s : SCOPE_KEYS) {
            List<String> own = n.isSet("scopes." + s) ? n.stringList("scopes." + s, "scope strings") : null;
            scopes.put(s, own != null ? own : scopesFrom == null ? List.of() : scopesFrom.scopes().get(s));
        }
        return new OAuth2ProviderConfig(name, tenant, token, device, authorize, clientId, secret, cert, key, redirect,
                scopes.get("imap"), scopes.get("pop3"), scopes.get("smtp"), scopes.get("app"),
                preset.flatMap(Preset::resource), scopes.get("graph"), scopes.get("graph-shared"),
                scopes.get("graph-app"));
    }
}
