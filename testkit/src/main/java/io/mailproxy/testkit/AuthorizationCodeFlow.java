package io.mailproxy.testkit;

import static io.mailproxy.testkit.IdpHttp.error;
import static io.mailproxy.testkit.IdpHttp.parse;
import static io.mailproxy.testkit.IdpHttp.redirect;
import static io.mailproxy.testkit.IdpHttp.send;

import com.sun.net.httpserver.HttpExchange;
import io.mailproxy.testkit.IdpState.Client;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** The authorization code grant with PKCE: the {@code /authorize} endpoint and the code's redemption. */
final class AuthorizationCodeFlow {

    private record PendingCode(String clientId, String user, String redirectUri, String scope, String challenge,
                               String challengeMethod, Instant expiresAt) { }

    private final IdpState state;
    private final TokenIssuer issuer;
    private final Map<String, PendingCode> authorizationCodes = new ConcurrentHashMap<>();

    AuthorizationCodeFlow(IdpState state, TokenIssuer issuer) {
        this.state = state;
        this.issuer = issuer;
    }

    /** {@code /authorize}: a sign-in page, or a redirect with a code for the signed-in user. */
    void authorize(HttpExchange exchange) throws IOException {
        Map<String, String> q = parse(exchange.getRequestURI().getRawQuery());
        Client client = state.clients.get(q.getOrDefault("client_id", ""));
        String redirect = q.get("redirect_uri");
        if (client == null || redirect == null) {
            send(exchange, 400, "text/html", "<html><body>AADSTS700016: Application with identifier '"
                    + q.get("client_id") + "' was not found in the directory.</body></html>");
            return;
        }
        if (!"code".equals(q.get("response_type"))) {
            redirect(exchange, redirect, Map.of("error", "unsupported_response_type", "error_description",
                    "AADSTS700054: response_type 'code' is expected.", "state", q.getOrDefault("state", "")));
            return;
        }
        String user = state.signedInUser;
        if (user == null) {
            send(exchange, 200, "text/html", "<html><body>Sign in to your account</body></html>");
            return;
        }
        String code = "0.fake-code." + state.opaque();
        authorizationCodes.put(code, new PendingCode(client.id(), user, redirect, q.getOrDefault("scope", ""),
                q.get("code_challenge"), q.getOrDefault("code_challenge_method", "plain"),
                state.now().plus(Duration.ofMinutes(10))));
        Map<String, String> params = new LinkedHashMap<>();
        params.put("code", code);
        if (q.containsKey("state")) {
            params.put("state", q.get("state"));
        }
        params.put("session_state", UUID.randomUUID().toString());
        redirect(exchange, redirect, params);
    }

    /** The authorization code grant, with the PKCE check (S256 or plain). */
    void grant(HttpExchange exchange, Client client, Map<String, String> form)
            throws IOException {
        PendingCode pending = authorizationCodes.remove(form.getOrDefault("code", ""));
        if (pending == null || !pending.clientId().equals(client.id()) || !state.now().isBefore(pending.expiresAt())) {
            error(state, exchange, 400, "invalid_grant", 70008, "The provided authorization code or refresh token has"
                    + " expired due to inactivity. Send a new interactive authorization request for this user and"
                    + " resource.");
            return;
        }
        if (!pending.redirectUri().equals(form.get("redirect_uri"))) {
            error(state, exchange, 400, "invalid_grant", 500112, "The reply address '" + form.get("redirect_uri")
                    + "' does not match the reply address '" + pending.redirectUri() + "' provided when requesting"
                    + " Authorization code.");
            return;
        }
        if (pending.challenge() != null) {
            String verifier = form.get("code_verifier");
            String computed = verifier == null ? null : "S256".equals(pending.challengeMethod())
                    ? Base64.getUrlEncoder().withoutPadding().encodeToString(sha256(verifier)) : verifier;
            if (!pending.challenge().equals(computed)) {
                error(state, exchange, 400, "invalid_grant", 501481,
                        "The Code_Verifier does not match the code_challenge"
                        + " supplied in the authorization request.");
                return;
            }
        }
        issuer.consent(client.id(), pending.user(), pending.scope()); // the authorize request's scopes, every resource
        issuer.issue(exchange, client.id(), pending.user(), form.getOrDefault("scope", pending.scope()), false);
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
