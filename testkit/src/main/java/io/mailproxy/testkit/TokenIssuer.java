package io.mailproxy.testkit;

import static io.mailproxy.testkit.IdpHttp.json;
import static io.mailproxy.testkit.IdpHttp.send;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * Issues the tokens of a successful grant: an opaque access token (remembered for {@code isValid}), a refresh token
 * with {@code offline_access}, and an RS256 ID token with {@code openid}.
 */
final class TokenIssuer {
    private static final Set<String> NON_RESOURCE_SCOPES = Set.of("offline_access", "openid", "profile", "email");

    private final IdpState state;
    private volatile java.security.KeyPair signingKey;

    TokenIssuer(IdpState state) {
        this.state = state;
    }

    void issue(HttpExchange exchange, String clientId, String user, String scope, boolean noNewRefresh)
            throws IOException {
        issue(exchange, clientId, user, scope, noNewRefresh, null);
    }

    void issue(HttpExchange exchange, String clientId, String user, String requestedScope,
                       boolean noNewRefresh, String keepRefresh) throws IOException {
        List<String> scopes = Arrays.stream(requestedScope.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList();
        String granted = scopes.stream().filter(s -> !NON_RESOURCE_SCOPES.contains(s)).distinct()
                .collect(Collectors.joining(" "));
        if (resources(requestedScope).size() > 1) {
            // "You can't get a token for several resources at once with the Microsoft identity platform. The scopes
            // parameter can contain scopes for only a single resource" (Microsoft Learn, scenario-desktop-production,
            // "Have the user consent upfront for several resources"); the token endpoint's refusal is AADSTS28000.
            IdpHttp.error(state, exchange, 400, "invalid_scope", 28000, "Provided value for the input parameter scope"
                    + " is not valid because it contains more than one resource. Scope " + requestedScope.trim()
                    + " is not valid.");
            return;
        }
        String at = "EwBIA8l6BAAU" + state.opaque() + state.opaque();
        long seconds = state.expiresIn.toSeconds();
        state.accessTokens.put(at, new IdpState.IssuedAccessToken(clientId, Optional.ofNullable(user), granted,
                state.now().plusSeconds(seconds)));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("token_type", "Bearer");
        body.put("scope", granted);
        body.put("expires_in", seconds);
        body.put("ext_expires_in", seconds);
        body.put("access_token", at);
        if (user != null && scopes.contains("openid")) {
            body.put("id_token", idToken(clientId, user, scopes.contains("profile")));
        }
        if (user != null && scopes.contains("offline_access")) {
            String rt;
            if (keepRefresh != null) {
                rt = keepRefresh;
            } else if (noNewRefresh) {
                rt = null;
            } else {
                rt = "1.fake-rt." + state.opaque();
                state.refreshTokens.put(rt, new IdpState.IssuedRefreshToken(clientId, user, granted, null));
            }
            if (rt != null) {
                body.put("refresh_token", rt);
            }
        }
        send(exchange, 200, "application/json; charset=utf-8", json(body));
    }


    /**
     * The resources a scope string names: a URL scope's scheme and host ({@code https://outlook.office.com} of
     * {@code https://outlook.office.com/SMTP.Send}); a bare permission ({@code Mail.Send}) is Microsoft Graph's; the
     * OpenID Connect scopes and {@code offline_access} name none.
     */
    static Set<String> resources(String scope) {
        return Arrays.stream(scope.trim().split("\\s+")).filter(s -> !s.isEmpty() && !NON_RESOURCE_SCOPES.contains(s))
                .map(TokenIssuer::resourceOf).collect(Collectors.toCollection(java.util.LinkedHashSet::new));
    }

    static String resourceOf(String scope) {
        int slash = scope.indexOf('/', scope.indexOf("://") + 3);
        return scope.contains("://") ? (slash < 0 ? scope : scope.substring(0, slash)) : "https://graph.microsoft.com";
    }

    /** {@code scope} without the scopes of every resource but the first it names (OIDC scopes kept). */
    static String firstResourceOnly(String scope) {
        Set<String> resources = resources(scope);
        if (resources.size() < 2) {
            return scope;
        }
        String first = resources.iterator().next();
        return Arrays.stream(scope.trim().split("\\s+")).filter(s -> NON_RESOURCE_SCOPES.contains(s)
                || resourceOf(s).equals(first)).collect(Collectors.joining(" "));
    }

    /** Records the resource scopes a user consented to for a client at an interactive sign-in. */
    void consent(String clientId, String user, String scope) {
        state.consents.computeIfAbsent(IdpState.consentKey(clientId, user), k -> java.util.concurrent.ConcurrentHashMap
                .newKeySet()).addAll(Arrays.stream(scope.trim().split("\\s+"))
                .filter(s -> !s.isEmpty() && !NON_RESOURCE_SCOPES.contains(s)).toList());
    }

    /** The scopes of {@code scope} the user has not consented to, when a consent is recorded for them; else none. */
    List<String> notConsented(String clientId, String user, String scope) {
        Set<String> consented = state.consents.get(IdpState.consentKey(clientId, user));
        if (consented == null) {
            return List.of();
        }
        return Arrays.stream(scope.trim().split("\\s+")).filter(s -> !s.isEmpty() && !NON_RESOURCE_SCOPES.contains(s)
                && !consented.contains(s)).toList();
    }

    /** An RS256 ID token as the v2.0 endpoint issues it (see the class comment for the claims). */
    private String idToken(String clientId, String user, boolean profile) {
        Instant now = state.now();
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder()
                .audience(clientId)
                .issuer("https://login.microsoftonline.com/" + state.tenantId + "/v2.0")
                .issueTime(java.util.Date.from(now))
                .notBeforeTime(java.util.Date.from(now))
                .expirationTime(java.util.Date.from(now.plus(Duration.ofHours(1))))
                .subject(state.opaque())
                .claim("tid", state.tenantId)
                .claim("ver", "2.0");
        if (profile) {
            claims.claim("preferred_username", user)
                    .claim("name", user.contains("@") ? user.substring(0, user.indexOf('@')) : user)
                    .claim("oid", UUID.nameUUIDFromBytes(user.toLowerCase(Locale.ROOT)
                            .getBytes(StandardCharsets.UTF_8)).toString());
        }
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID("fake-idp-1").build(),
                    claims.build());
            jwt.sign(new RSASSASigner(signingKey().getPrivate()));
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign the ID token", e);
        }
    }

    private java.security.KeyPair signingKey() {
        java.security.KeyPair key = signingKey;
        if (key == null) {
            synchronized (this) {
                key = signingKey;
                if (key == null) {
                    try {
                        java.security.KeyPairGenerator generator = java.security.KeyPairGenerator.getInstance("RSA");
                        generator.initialize(2048);
                        key = generator.generateKeyPair();
                    } catch (NoSuchAlgorithmException e) {
                        throw new IllegalStateException(e);
                    }
                    signingKey = key;
                }
            }
        }
        return key;
    }
}
