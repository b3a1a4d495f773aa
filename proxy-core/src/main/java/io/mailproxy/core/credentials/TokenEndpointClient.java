package io.mailproxy.core.credentials;

import com.nimbusds.oauth2.sdk.AccessTokenResponse;
import com.nimbusds.oauth2.sdk.AuthorizationCodeGrant;
import com.nimbusds.oauth2.sdk.AuthorizationGrant;
import com.nimbusds.oauth2.sdk.ErrorObject;
import com.nimbusds.oauth2.sdk.ParseException;
import com.nimbusds.oauth2.sdk.ResourceOwnerPasswordCredentialsGrant;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.TokenResponse;
import com.nimbusds.oauth2.sdk.auth.ClientAuthentication;
import com.nimbusds.oauth2.sdk.auth.ClientSecretPost;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.http.HTTPRequest;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import com.nimbusds.oauth2.sdk.id.ClientID;
import io.mailproxy.core.AdminCommand;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import net.minidev.json.JSONArray;
import net.minidev.json.JSONObject;

/**
 * One blocking round trip to a token (or device authorization) endpoint through Nimbus, with connect and read
 * timeouts, turning Microsoft's error bodies into {@link TokenException}s. Never called on an event loop.
 */
final class TokenEndpointClient {
    private static final Pattern AADSTS = Pattern.compile("^(AADSTS(\\d+)):");
    /** AADSTS700024: "Client assertion is not within its valid time range." */
    static final long CLOCK_SKEW_CODE = 700024L;

    private final SecretResolver secrets;
    private final Clock clock;
    private final Duration connectTimeout;
    private final Duration readTimeout;
    private final TokenMetrics metrics;

    TokenEndpointClient(SecretStore store, Clock clock, Duration connectTimeout, Duration readTimeout) {
        this(store, clock, connectTimeout, readTimeout, TokenMetrics.NONE);
    }

    TokenEndpointClient(SecretStore store, Clock clock, Duration connectTimeout, Duration readTimeout,
                        TokenMetrics metrics) {
        this.secrets = new SecretResolver(store);
        this.clock = clock;
        this.connectTimeout = connectTimeout;
        this.readTimeout = readTimeout;
        this.metrics = metrics;
    }

    /** @param idToken the OpenID Connect ID token, when the scope held {@code openid} */
    record Issued(com.nimbusds.oauth2.sdk.token.AccessToken accessToken, Instant expiresAt,
                  Optional<String> refreshToken, String scope, Optional<String> idToken) {
        Issued(com.nimbusds.oauth2.sdk.token.AccessToken accessToken, Instant expiresAt,
               Optional<String> refreshToken, String scope) {
            this(accessToken, expiresAt, refreshToken, scope, Optional.empty());
        }

        /** The {@code id_token} of a token response (Nimbus keeps it among the custom parameters). */
        static Optional<String> idToken(AccessTokenResponse response) {
            Object idToken = response.getCustomParameters().get("id_token");
            return idToken instanceof String s ? Optional.of(s) : Optional.empty();
        }

        @Override
        public String toString() {
            return "Issued[****, expires " + expiresAt + "]";
        }
    }

    /** The client's authentication: a certificate (private_key_jwt), a secret (client_secret_post), or none. */
    ClientAuthentication clientAuthentication(OAuth2ProviderConfig provider) throws TokenException {
        if (provider.certificateFile().isPresent()) {
            Path cert = provider.certificateFile().get();
            ClientAssertions.Credential credential = ClientAssertions.load(cert, provider.privateKeyFile().orElse(cert));
            return ClientAssertions.create(credential, provider.clientId(), provider.tokenEndpoint(), clock.instant());
        }
        if (provider.clientSecret().isPresent()) {
            return new ClientSecretPost(new ClientID(provider.clientId()),
                    new Secret(resolve(provider.clientSecret().get(), "client secret of provider " + provider.name())));
        }
        return null;
    }

    String resolve(SecretRef ref, String what) throws TokenException {
        try {
            return secrets.resolve(ref);
        } catch (SecretResolver.Unavailable e) {
            String name = e.name();
            throw e.storeFailure()
                    .map(f -> new TokenException(TokenException.Reason.SECRET_MISSING, "cannot read secret '" + name
                            + "' (" + what + "): " + f.getMessage(), null, List.of(), f))
                    .orElseGet(() -> new TokenException(TokenException.Reason.SECRET_MISSING, "secret '" + name
                            + "' (" + what + ") is not stored: run " + AdminCommand.of("secret set " + name)));
        }
    }

    Issued token(OAuth2ProviderConfig provider, AuthorizationGrant grant, Scope scope, String who) throws TokenException {
        ClientAuthentication auth = clientAuthentication(provider);
        // 21Vianet's password grant is reported to need v1.0's resource parameter (email-oauth2-proxy: "ROPCG that
        // uses a resource parameter instead of a scope (e.g., 21Vianet's version of O365; see GitHub #351)", with
        // token_url .../oauth2/token); the v2.0 endpoint refuses resource (AADSTS901002), so it goes to v1.0
        boolean v1 = provider.resource().isPresent() && grant instanceof ResourceOwnerPasswordCredentialsGrant;
        URI endpoint = v1 ? provider.v1TokenEndpoint() : provider.tokenEndpoint();
        List<URI> resources = v1 ? List.of(URI.create(provider.resource().get())) : null;
        // Nimbus leaves scope out of a code redemption (RFC 6749 has none there); Microsoft's v2.0 endpoint takes it
        // "to allow apps to declare the resource they want the token for during token redemption" (auth code flow
        // docs), which a login that asked consent for several resources needs (LoginConsent)
        Map<String, List<String>> extra = grant instanceof AuthorizationCodeGrant && scope != null
                ? Map.of("scope", List.of(scope.toString())) : null;
        TokenRequest request = auth != null
                ? new TokenRequest(endpoint, auth, grant, scope, resources, extra)
                : new TokenRequest(endpoint, new ClientID(provider.clientId()), grant, scope, resources, null, extra);
        Instant sent = clock.instant(); // expiry counts from the request, not the reply: never late
        requireSecureEndpoint(endpoint); // refused before any request: not counted
        String grantType = grant.getType().getValue();
        HTTPResponse response;
        try {
            response = send(request.toHTTPRequest(), endpoint);
        } catch (TokenException e) {
            metrics.request(provider.name(), grantType, e.getCause() instanceof IOException
                    ? TokenMetrics.UNREACHABLE : TokenMetrics.HTTP_ERROR);
            throw e;
        }
        TokenResponse parsed;
        try {
            parsed = TokenResponse.parse(response);
        } catch (ParseException e) {
            metrics.request(provider.name(), grantType, TokenMetrics.HTTP_ERROR);
            throw unparsable(endpoint, response);
        }
        if (!parsed.indicatesSuccess()) {
            ErrorObject error = parsed.toErrorResponse().getErrorObject();
            metrics.request(provider.name(), grantType, TokenMetrics.rejected(error == null ? null : error.getCode()));
            throw rejected(provider, grantType, who, response, error);
        }
        metrics.request(provider.name(), grantType, TokenMetrics.OK);
        AccessTokenResponse ok = parsed.toSuccessResponse();
        com.nimbusds.oauth2.sdk.token.AccessToken at = ok.getTokens().getAccessToken();
        long lifetime = at.getLifetime() > 0 ? at.getLifetime() : 3600;
        Optional<String> rt = Optional.ofNullable(ok.getTokens().getRefreshToken()).map(r -> r.getValue());
        String granted = at.getScope() != null ? at.getScope().toString() : scope == null ? "" : scope.toString();
        return new Issued(at, sent.plusSeconds(lifetime), rt, granted, Issued.idToken(ok));
    }

    HTTPResponse send(HTTPRequest request, URI endpoint) throws TokenException {
        requireSecureEndpoint(endpoint);
        request.setConnectTimeout((int) connectTimeout.toMillis());
        request.setReadTimeout((int) readTimeout.toMillis());
        request.setFollowRedirects(false);
        HTTPResponse response;
        try {
            response = request.send();
        } catch (IOException e) {
            throw new TokenException(TokenException.Reason.ENDPOINT_UNAVAILABLE, "token endpoint " + endpoint
                    + " unreachable: " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : " " + e.getMessage()), null, List.of(), e);
        }
        if (response.getStatusCode() >= 500 || response.getStatusCode() == 429) {
            throw new TokenException(TokenException.Reason.ENDPOINT_UNAVAILABLE, "token endpoint " + endpoint
                    + " answered HTTP " + response.getStatusCode() + firstLineOfError(response), null, List.of(), null);
        }
        return response;
    }

    /** Tokens and secrets travel only over https, except to a loopback address (a local test provider). */
    static void requireSecureEndpoint(URI endpoint) throws TokenException {
        if ("https".equalsIgnoreCase(endpoint.getScheme())) {
            return;
        }
        String host = endpoint.getHost() == null ? "" : endpoint.getHost();
        // an IPv4 literal in 127/8 or ::1 only: "127.evil.example" is a host name, not a loopback address
        boolean loopback = host.equals("localhost") || host.equals("[::1]") || host.equals("::1")
                || host.matches("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");
        if (!"http".equalsIgnoreCase(endpoint.getScheme()) || !loopback) {
            throw new TokenException(TokenException.Reason.CONFIGURATION, "endpoint " + endpoint + " is not https://"
                    + " (plain http is allowed only on a loopback address)");
        }
    }

    static TokenException unparsable(URI endpoint, HTTPResponse response) {
        return new TokenException(TokenException.Reason.ENDPOINT_UNAVAILABLE, "token endpoint " + endpoint
                + " answered HTTP " + response.getStatusCode() + " with a body that is not an OAuth 2.0 token response",
                null, List.of(), null);
    }

    private static String firstLineOfError(HTTPResponse response) {
        try {
            JSONObject body = response.getBodyAsJSONObject();
            Object description = body.get("error_description");
            return description == null ? "" : ": " + firstLine(String.valueOf(description));
        } catch (ParseException | RuntimeException e) {
            return "";
        }
    }

    /** {@code invalid_grant}, {@code invalid_client} ... with Microsoft's AADSTS code and first line of text. */
    static TokenException rejected(OAuth2ProviderConfig provider, String grant, String who, HTTPResponse response,
                                   ErrorObject error) {
        String code = error == null || error.getCode() == null ? "error" : error.getCode();
        String description = error == null || error.getDescription() == null ? "" : error.getDescription();
        List<Long> codes = new ArrayList<>();
        try {
            Object raw = response.getBodyAsJSONObject().get("error_codes");
            if (raw instanceof JSONArray array) {
                for (Object o : array) {
                    if (o instanceof Number n) {
                        codes.add(n.longValue());
                    }
                }
            }
            Object fullDescription = response.getBodyAsJSONObject().get("error_description");
            if (fullDescription != null) {
                description = String.valueOf(fullDescription);
            }
        } catch (ParseException | RuntimeException e) {
            // not JSON, or no error_codes: the OAuth error object is all there is
        }
        description = firstLine(description);
        Matcher m = AADSTS.matcher(description);
        if (codes.isEmpty() && m.find()) {
            codes.add(Long.parseLong(m.group(2)));
        }
        boolean skew = codes.contains(CLOCK_SKEW_CODE);
        String subject = who.isEmpty() ? "" : " for " + who;
        String message = skew
                ? "clock skew: provider " + provider.name() + " refused the signed client assertion as outside its"
                        + " valid time range; check this machine's clock (NTP). " + code + ": " + description
                : "provider " + provider.name() + " refused the " + grant + " grant" + subject + ": " + code
                        + (description.isEmpty() ? "" : ": " + description);
        return new TokenException(skew ? TokenException.Reason.CLOCK_SKEW : TokenException.Reason.REJECTED,
                message, code, codes, null);
    }

    /** Microsoft appends "\r\nTrace ID: ...\r\nCorrelation ID: ...": the first line is the reason. */
    static String firstLine(String text) {
        int cut = text.indexOf('\r');
        int lf = text.indexOf('\n');
        if (cut < 0 || (lf >= 0 && lf < cut)) {
            cut = lf;
        }
        String line = cut < 0 ? text : text.substring(0, cut);
        line = line.strip();
        return line.length() > 500 ? line.substring(0, 500) + "..." : line;
    }
}
