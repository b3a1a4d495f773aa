package io.mailproxy.testkit;

import static io.mailproxy.testkit.IdpHttp.error;
import static io.mailproxy.testkit.IdpHttp.form;
import static io.mailproxy.testkit.IdpHttp.json;
import static io.mailproxy.testkit.IdpHttp.send;

import com.sun.net.httpserver.HttpExchange;
import io.mailproxy.testkit.IdpState.Client;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The token endpoints: v2.0 with the grants client credentials, refresh token (with rotation), password (ROPC),
 * device code and authorization code; v1.0 with the password grant and a {@code resource}.
 */
final class TokenEndpoint {

    private final IdpState state;
    private final ClientAuthentication clientAuthentication;
    private final TokenIssuer issuer;
    private final DeviceCodeFlow deviceCodes;
    private final AuthorizationCodeFlow authorizationCodes;

    TokenEndpoint(IdpState state, TokenIssuer issuer, DeviceCodeFlow deviceCodes,
            AuthorizationCodeFlow authorizationCodes) {
        this.state = state;
        this.clientAuthentication = new ClientAuthentication(state);
        this.issuer = issuer;
        this.deviceCodes = deviceCodes;
        this.authorizationCodes = authorizationCodes;
    }

    /** {@code /{tenant}/oauth2/v2.0/token}. */
    void v2(HttpExchange exchange, String tenant) throws IOException {
        if (!"POST".equals(exchange.getRequestMethod())) {
            error(state, exchange, 405, "invalid_request", 900561,
                    "The endpoint only accepts POST requests. Received a "
                    + exchange.getRequestMethod() + " request.");
            return;
        }
        Map<String, String> form = form(exchange);
        String grant = form.getOrDefault("grant_type", "");
        Client client = received(exchange, form, grant, tenant);
        if (client == null) {
            return;
        }
        if (form.containsKey("resource")) {
            // the v2.0 endpoint takes scopes only (IBM support page ibm16469517 quotes this AADSTS901002 text)
            error(state, exchange, 400, "invalid_request", 901002,
                    "The 'resource' request parameter is not supported.");
            return;
        }
        switch (grant) {
            case FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS -> {
                if (client.secret().isEmpty() && client.certificate().isEmpty()) {
                    error(state, exchange, 401, "invalid_client", 7000218, "The request body must contain the following"
                            + " parameter: 'client_assertion' or 'client_secret'.");
                    return;
                }
                String scope = form.getOrDefault("scope", "");
                if (!scope.endsWith("/.default")) {
                    error(state, exchange, 400, "invalid_scope", 1002012, "The provided value for scope " + scope
                            + " is not valid. Client credential flows must have a scope value with /.default suffixed"
                            + " to the resource identifier (application ID URI).");
                    return;
                }
                issuer.issue(exchange, client.id(), null, scope, false);
            }
            case FakeIdentityPlatform.GRANT_REFRESH_TOKEN -> {
                String presented = form.getOrDefault("refresh_token", "");
                IdpState.IssuedRefreshToken rt = state.refreshTokens.get(presented);
                if (rt == null || !rt.clientId().equals(client.id())) {
                    error(state, exchange, 400, "invalid_grant", 9002313,
                            "Invalid request. Request is malformed or invalid.");
                    return;
                }
                if ("revoked".equals(rt.reason())) {
                    error(state, exchange, 400, "invalid_grant", 50173, "The provided grant has expired due to it being"
                            + " revoked, a fresh auth token is needed. The user might have changed or reset their password.");
                    return;
                }
                if ("inactive".equals(rt.reason())) {
                    error(state, exchange, 400, "invalid_grant", 700082,
                            "The refresh token has expired due to inactivity."
                            + " The token was issued on " + state.now().minus(Duration.ofDays(91)) + " and was inactive"
                            + " for 90.00:00:00.");
                    return;
                }
                if ("used".equals(rt.reason())) {
                    error(state, exchange, 400, "invalid_grant", 70008,
                            "The provided authorization code or refresh token"
                            + " has expired due to inactivity. Send a new interactive authorization request for this"
                            + " user and resource.");
                    return;
                }
                String scope = form.getOrDefault("scope", rt.scope());
                List<String> missing = issuer.notConsented(client.id(), rt.user(), scope);
                if (!missing.isEmpty()) {
                    // a multi-resource refresh token redeems for another resource only once the user consented to it
                    error(state, exchange, 400, "invalid_grant", 65001, "The user or administrator has not consented"
                            + " to use the application with ID '" + client.id() + "'. Send an interactive authorization"
                            + " request for this user and resource. Missing: " + String.join(" ", missing));
                    return;
                }
                if (state.rotateRefreshTokens && state.invalidateUsedRefreshTokens) {
                    state.refreshTokens.put(presented, new IdpState.IssuedRefreshToken(rt.clientId(), rt.user(),
                            rt.scope(), "used"));
                }
                issuer.issue(exchange, client.id(), rt.user(), scope + " offline_access", !state.rotateRefreshTokens,
                        state.rotateRefreshTokens ? null : presented);
            }
            case FakeIdentityPlatform.GRANT_PASSWORD -> {
                String user = form.getOrDefault("username", "");
                String expected = state.users.get(user.toLowerCase(Locale.ROOT));
                if (expected == null || !expected.equals(form.get("password"))) {
                    error(state, exchange, 400, "invalid_grant", 50126, "Error validating credentials due to invalid"
                            + " username or password.");
                    return;
                }
                issuer.issue(exchange, client.id(), user, form.getOrDefault("scope", ""), false);
            }
            case FakeIdentityPlatform.GRANT_DEVICE_CODE -> deviceCodes.grant(exchange, client, form);
            case FakeIdentityPlatform.GRANT_AUTHORIZATION_CODE -> authorizationCodes.grant(exchange, client, form);
            default -> error(state, exchange, 400, "unsupported_grant_type", 70003, "The app requested an unsupported"
                    + " grant type '" + grant + "'.");
        }
    }

    /**
     * The v1.0 token endpoint, password grant only: it names the resource ({@code resource=https://partner.outlook.cn})
     * instead of scopes, and answers {@code expires_in} as a string, with {@code expires_on} and {@code resource}.
     */
    void v1(HttpExchange exchange, String tenant) throws IOException {
        Map<String, String> form = form(exchange);
        String grant = form.getOrDefault("grant_type", "");
        Client client = received(exchange, form, grant, tenant);
        if (client == null) {
            return;
        }
        String resource = form.get("resource");
        if (resource == null || resource.isEmpty()) {
            error(state, exchange, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter:"
                    + " 'resource'.");
            return;
        }
        if (!FakeIdentityPlatform.GRANT_PASSWORD.equals(grant)) {
            error(state, exchange, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"
                    + grant + "'.");
            return;
        }
        String user = form.getOrDefault("username", "");
        String expected = state.users.get(user.toLowerCase(Locale.ROOT));
        if (expected == null || !expected.equals(form.get("password"))) {
            error(state, exchange, 400, "invalid_grant", 50126,
                    "Error validating credentials due to invalid username or"
                    + " password.");
            return;
        }
        String at = "EwBIA8l6BAAU" + state.opaque() + state.opaque();
        long seconds = state.expiresIn.toSeconds();
        Instant expiresAt = state.now().plusSeconds(seconds);
        state.accessTokens.put(at, new IdpState.IssuedAccessToken(client.id(), Optional.of(user), resource, expiresAt));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("token_type", "Bearer");
        body.put("scope", form.getOrDefault("scope", ""));
        body.put("expires_in", String.valueOf(seconds));
        body.put("ext_expires_in", String.valueOf(seconds));
        body.put("expires_on", String.valueOf(expiresAt.getEpochSecond()));
        body.put("not_before", String.valueOf(state.now().getEpochSecond()));
        body.put("resource", resource);
        body.put("access_token", at);
        send(exchange, 200, "application/json; charset=utf-8", json(body));
    }

    /** Records the request and counts its grant; the client, or null when its authentication failed (answered). */
    private Client received(HttpExchange exchange, Map<String, String> form, String grant, String tenant)
            throws IOException {
        state.tokenRequests.add(new FakeIdentityPlatform.TokenRequest(exchange.getRequestURI().getPath(),
                Map.copyOf(form)));
        state.requestsByGrant.computeIfAbsent(grant, g -> new AtomicInteger()).incrementAndGet();
        return clientAuthentication.authenticate(exchange, form, tenant);
    }
}
