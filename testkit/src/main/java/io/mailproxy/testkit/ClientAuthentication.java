package io.mailproxy.testkit;

import static io.mailproxy.testkit.IdpHttp.error;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import io.mailproxy.testkit.IdpState.Client;
import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Map;

/**
 * How the token endpoint knows the client: {@code client_id} with {@code client_secret} (in the form or HTTP Basic),
 * a private_key_jwt assertion checked against the registered certificate, or nothing for a public client.
 */
final class ClientAuthentication {
    private static final Duration ASSERTION_SKEW = Duration.ofMinutes(5);

    private final IdpState state;

    ClientAuthentication(IdpState state) {
        this.state = state;
    }

    /** Checks the client's authentication; answers the error itself and returns null when it fails. */
    Client authenticate(HttpExchange exchange, Map<String, String> form, String tenant) throws IOException {
        String clientId = form.get("client_id");
        String secret = form.get("client_secret");
        String basic = exchange.getRequestHeaders().getFirst("Authorization");
        if (basic != null && basic.startsWith("Basic ")) {
            String decoded = new String(Base64.getDecoder().decode(basic.substring(6)), StandardCharsets.UTF_8);
            int colon = decoded.indexOf(':');
            clientId = URLDecoder.decode(decoded.substring(0, colon), StandardCharsets.UTF_8);
            secret = URLDecoder.decode(decoded.substring(colon + 1), StandardCharsets.UTF_8);
        }
        String assertion = form.get("client_assertion");
        SignedJWT jwt = null;
        if (assertion != null) {
            if (!FakeIdentityPlatform.JWT_BEARER.equals(form.get("client_assertion_type"))) {
                error(state, exchange, 400, "invalid_request", 700026, "Client assertion type is not valid.");
                return null;
            }
            try {
                jwt = SignedJWT.parse(assertion);
                state.clientAssertionsSeen.add(jwt.getHeader().toString());
                if (clientId == null) {
                    clientId = jwt.getJWTClaimsSet().getSubject();
                }
            } catch (java.text.ParseException e) {
                error(state, exchange, 400, "invalid_client", 50027, "JWT token is invalid or malformed.");
                return null;
            }
        }
        Client client = clientId == null ? null : state.clients.get(clientId);
        if (client == null) {
            error(state, exchange, 400, "unauthorized_client", 700016, "Application with identifier '" + clientId
                    + "' was not found in the directory '" + tenant + "'. This can happen if the application has not"
                    + " been installed by the administrator of the tenant or consented to by any user in the tenant.");
            return null;
        }
        if (jwt != null) {
            return verifyAssertion(exchange, client, jwt, tenant) ? client : null;
        }
        if (secret != null) {
            if (client.secret().isEmpty() || !client.secret().get().equals(secret)) {
                error(state, exchange, 401, "invalid_client", 7000215,
                        "Invalid client secret provided. Ensure the secret"
                        + " being sent in the request is the client secret value, not the client secret ID, for a"
                        + " secret added to app '" + client.id() + "'.");
                return null;
            }
            return client;
        }
        if (client.secret().isPresent() || client.certificate().isPresent()) {
            error(state, exchange, 401, "invalid_client", 7000218,
                    "The request body must contain the following parameter:"
                    + " 'client_assertion' or 'client_secret'.");
            return null;
        }
        return client;
    }

    @SuppressWarnings("deprecation") // Entra ID accepts the SHA-1 x5t as well as x5t#S256
    private boolean verifyAssertion(HttpExchange exchange, Client client, SignedJWT jwt, String tenant)
            throws IOException {
        if (client.certificate().isEmpty()) {
            error(state, exchange, 401, "invalid_client", 700027, "Client assertion failed signature validation."
                    + " No certificate is registered for app '" + client.id() + "'.");
            return false;
        }
        X509Certificate cert = client.certificate().get();
        Base64URL x5t = jwt.getHeader().getX509CertThumbprint();
        Base64URL x5tS256 = jwt.getHeader().getX509CertSHA256Thumbprint();
        boolean thumbprintMatches = (x5t != null && x5t.equals(thumbprint(cert, "SHA-1")))
                || (x5tS256 != null && x5tS256.equals(thumbprint(cert, "SHA-256")));
        if (!thumbprintMatches) {
            error(state, exchange, 401, "invalid_client", 700027, "Client assertion failed signature validation."
                    + " (Reason - The key was not found.)");
            return false;
        }
        try {
            JWSVerifier verifier = cert.getPublicKey() instanceof ECPublicKey ec ? new ECDSAVerifier(ec)
                    : new RSASSAVerifier((RSAPublicKey) cert.getPublicKey());
            if (!jwt.verify(verifier)) {
                error(state, exchange, 401, "invalid_client", 700027, "Client assertion failed signature validation.");
                return false;
            }
            JWTClaimsSet claims = jwt.getJWTClaimsSet();
            if (!client.id().equals(claims.getIssuer()) || !client.id().equals(claims.getSubject())) {
                error(state, exchange, 401, "invalid_client", 50048, "Subject mismatches Issuer claim in the client"
                        + " assertion.");
                return false;
            }
            if (claims.getAudience() == null || !claims.getAudience().contains(state.tokenEndpoint(tenant).toString())) {
                error(state, exchange, 401, "invalid_client", 700021, "Client assertion audience claim does not match"
                        + " Realm issuer. Review the documentation at"
                        + " https://learn.microsoft.com/entra/identity-platform/certificate-credentials .");
                return false;
            }
            Instant now = state.now();
            Instant exp = claims.getExpirationTime() == null ? null : claims.getExpirationTime().toInstant();
            Instant nbf = claims.getNotBeforeTime() == null ? (claims.getIssueTime() == null ? null
                    : claims.getIssueTime().toInstant()) : claims.getNotBeforeTime().toInstant();
            if (exp == null || now.isAfter(exp.plus(ASSERTION_SKEW)) || (nbf != null && now.isBefore(nbf.minus(ASSERTION_SKEW)))) {
                error(state, exchange, 401, "invalid_client", 700024,
                        "Client assertion is not within its valid time range."
                        + " Current time: " + iso(now) + ", assertion valid from " + (nbf == null ? "unknown" : iso(nbf))
                        + ", expiry time of assertion " + (exp == null ? "unknown" : iso(exp)) + ". Review the"
                        + " documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .");
                return false;
            }
            return true;
        } catch (JOSEException | java.text.ParseException | ClassCastException e) {
            error(state, exchange, 401, "invalid_client", 700027, "Client assertion failed signature validation.");
            return false;
        }
    }

    private static Base64URL thumbprint(X509Certificate cert, String algorithm) {
        try {
            return Base64URL.encode(MessageDigest.getInstance(algorithm).digest(cert.getEncoded()));
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String iso(Instant t) {
        return DateTimeFormatter.ISO_INSTANT.format(t);
    }
}
