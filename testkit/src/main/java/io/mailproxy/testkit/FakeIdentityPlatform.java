package io.mailproxy.testkit;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * A fake Microsoft identity platform (Entra ID v2.0 endpoints) on {@code http://127.0.0.1:<port 0>}, for tests:
 * {@code /{tenant}/oauth2/v2.0/token}, {@code /devicecode} and {@code /authorize}, with the grants client
 * credentials (secret or a private_key_jwt assertion checked against the registered certificate), refresh token
 * (with rotation), password (ROPC), device code and authorization code with PKCE (S256). Errors come in
 * Microsoft's body format ({@code error}, {@code error_description} starting {@code AADSTSnnn:} and ending in trace
 * and correlation ids, {@code error_codes}, {@code timestamp}, ...). Access tokens are opaque random strings that
 * {@link #isValid(String, String)} checks, so fake upstreams and GreenMail's token validator can accept them.
 *
 * <p>A delegated grant whose scope holds {@code openid} also returns an {@code id_token}: an RS256 JWT with
 * {@code aud}, {@code iss}, {@code tid}, {@code oid}, {@code sub}, {@code ver = 2.0}, and with the {@code profile}
 * scope {@code preferred_username} and {@code name} (entra-docs identity-platform/id-token-claims-reference.md:
 * "The {@code profile} scope is required to receive this claim", for {@code preferred_username}, {@code name} and
 * {@code oid}). The v1.0 token endpoint ({@code /{tenant}/oauth2/token}) takes the password grant with a
 * {@code resource} parameter, as 21Vianet's ROPC is reported to need; the v2.0 endpoint refuses {@code resource}
 * with AADSTS901002. {@link #tokenRequests()} shows what each token request carried.
 *
 * <p>Time comes from {@link #clock(Clock)}; faults are switched on with {@link #failWith(int)},
 * {@link #revokeRefreshTokens(String)}, {@link #expireRefreshTokens(String)}, {@link #stop()}.
 */
public final class FakeIdentityPlatform implements AutoCloseable {
    public static final String GRANT_CLIENT_CREDENTIALS = "client_credentials";
    public static final String GRANT_REFRESH_TOKEN = "refresh_token";
    public static final String GRANT_PASSWORD = "password";
    public static final String GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code";
    public static final String GRANT_AUTHORIZATION_CODE = "authorization_code";
    static final String JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    private static final Duration ASSERTION_SKEW = Duration.ofMinutes(5);
    private static final Set<String> NON_RESOURCE_SCOPES = Set.of("offline_access", "openid", "profile", "email");

    private final HttpServer server;
    private final SecureRandom random = new SecureRandom();
    private volatile Supplier<Instant> clock = Instant::now;
    private volatile Duration expiresIn = Duration.ofSeconds(3599);
    private volatile boolean rotateRefreshTokens = true;
    private volatile boolean invalidateUsedRefreshTokens = true;
    private volatile int failureStatus;
    private volatile int deviceCodeIntervalSeconds = 5;
    private volatile int deviceCodeLifetimeSeconds = 900;
    private volatile String signedInUser;

    private final Map<String, Client> clients = new ConcurrentHashMap<>();
    private final Map<String, String> users = new ConcurrentHashMap<>();
    private final Map<String, IssuedAccessToken> accessTokens = new ConcurrentHashMap<>();
    private final Map<String, IssuedRefreshToken> refreshTokens = new ConcurrentHashMap<>();
    private final Map<String, DeviceAuthorization> deviceCodes = new ConcurrentHashMap<>();
    private final Map<String, PendingCode> authorizationCodes = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> requestsByGrant = new ConcurrentHashMap<>();
    private final AtomicInteger requests = new AtomicInteger();
    private final List<String> clientAssertionsSeen = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final List<TokenRequest> tokenRequests = new java.util.concurrent.CopyOnWriteArrayList<>();
    /** The directory's tenant id (the {@code tid} claim), fixed per fake. */
    private final String tenantId = UUID.randomUUID().toString();
    private volatile java.security.KeyPair signingKey;

    /**
     * One request to a token endpoint: its path ({@code /contoso/oauth2/v2.0/token} or the v1.0
     * {@code /contoso/oauth2/token}) and form parameters (secrets included: a test fake).
     */
    public record TokenRequest(String path, Map<String, String> form) { }

    private record Client(String id, Optional<String> secret, Optional<X509Certificate> certificate) { }

    private record IssuedAccessToken(String clientId, Optional<String> user, String scope, Instant expiresAt) { }

    /** The user a live delegated access token was issued to; empty for an app-only, expired or unknown token. */
    public Optional<String> delegatedUser(String token) {
        IssuedAccessToken t = token == null ? null : accessTokens.get(token);
        if (t == null || !clock.get().isBefore(t.expiresAt())) {
            return Optional.empty();
        }
        return t.user();
    }

    private record IssuedRefreshToken(String clientId, String user, String scope, String reason) { }

    private static final class DeviceAuthorization {
        final String clientId;
        final String userCode;
        final String scope;
        final Instant expiresAt;
        int intervalSeconds;
        Instant lastPoll;
        String approvedUser;
        boolean declined;

        DeviceAuthorization(String clientId, String userCode, String scope, Instant expiresAt, int intervalSeconds) {
            this.clientId = clientId;
            this.userCode = userCode;
            this.scope = scope;
            this.expiresAt = expiresAt;
            this.intervalSeconds = intervalSeconds;
        }
    }

    private record PendingCode(String clientId, String user, String redirectUri, String scope, String challenge,
                               String challengeMethod, Instant expiresAt) { }

    private FakeIdentityPlatform() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        server.createContext("/", this::dispatch);
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-identity-platform");
            t.setDaemon(true);
            return t;
        }));
        server.start();
    }

    /** Starts on 127.0.0.1, a free port. */
    public static FakeIdentityPlatform start() {
        try {
            return new FakeIdentityPlatform();
        } catch (IOException e) {
            throw new IllegalStateException("cannot start the fake identity platform", e);
        }
    }

    // ------------------------------------------------------------------------------------------- endpoints

    /** {@code http://127.0.0.1:PORT} */
    public URI baseUri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    public URI tokenEndpoint(String tenant) {
        return baseUri().resolve("/" + tenant + "/oauth2/v2.0/token");
    }

    public URI deviceCodeEndpoint(String tenant) {
        return baseUri().resolve("/" + tenant + "/oauth2/v2.0/devicecode");
    }

    public URI authorizeEndpoint(String tenant) {
        return baseUri().resolve("/" + tenant + "/oauth2/v2.0/authorize");
    }

    // ------------------------------------------------------------------------------------------- set-up

    public FakeIdentityPlatform clock(Clock clock) {
        this.clock = clock::instant;
        return this;
    }

    /** A confidential client authenticating with {@code client_secret}. */
    public FakeIdentityPlatform registerClient(String clientId, String secret) {
        clients.put(clientId, new Client(clientId, Optional.of(secret), Optional.empty()));
        return this;
    }

    /** A confidential client authenticating with a private_key_jwt assertion signed by this certificate's key. */
    public FakeIdentityPlatform registerCertificateClient(String clientId, X509Certificate certificate) {
        clients.put(clientId, new Client(clientId, Optional.empty(), Optional.of(certificate)));
        return this;
    }

    /** A public client (device code, authorization code with PKCE, ROPC, refresh without a secret). */
    public FakeIdentityPlatform registerPublicClient(String clientId) {
        clients.put(clientId, new Client(clientId, Optional.empty(), Optional.empty()));
        return this;
    }

    public FakeIdentityPlatform addUser(String user, String password) {
        users.put(user.toLowerCase(Locale.ROOT), password);
        return this;
    }

    /** A refresh token as if {@code user} had consented earlier (to seed a secret store). */
    public String issueRefreshToken(String clientId, String user, String scope) {
        String rt = "1.fake-rt." + opaque();
        refreshTokens.put(rt, new IssuedRefreshToken(clientId, user, scope, null));
        return rt;
    }

    /** {@code expires_in} of new access tokens (default 3599 s, as Entra ID answers). */
    public FakeIdentityPlatform expiresIn(Duration expiresIn) {
        this.expiresIn = expiresIn;
        return this;
    }

    /** Whether a refresh returns a new refresh token (default true) and whether the used one stops working. */
    public FakeIdentityPlatform rotation(boolean rotate, boolean invalidateUsed) {
        this.rotateRefreshTokens = rotate;
        this.invalidateUsedRefreshTokens = invalidateUsed;
        return this;
    }

    public FakeIdentityPlatform deviceCodeTiming(int intervalSeconds, int lifetimeSeconds) {
        this.deviceCodeIntervalSeconds = intervalSeconds;
        this.deviceCodeLifetimeSeconds = lifetimeSeconds;
        return this;
    }

    // ------------------------------------------------------------------------------------------- faults

    /** Every request answers this HTTP status (500, 503 ...) with an HTML error page; 0 turns it off. */
    public void failWith(int httpStatus) {
        this.failureStatus = httpStatus;
    }

    /** The user's refresh tokens are revoked (AADSTS50173, as after a password change). */
    public void revokeRefreshTokens(String user) {
        markRefreshTokens(user, "revoked");
    }

    /** The user's refresh tokens expired from inactivity (AADSTS700082). */
    public void expireRefreshTokens(String user) {
        markRefreshTokens(user, "inactive");
    }

    private void markRefreshTokens(String user, String reason) {
        refreshTokens.replaceAll((k, v) -> v.user().equalsIgnoreCase(user)
                ? new IssuedRefreshToken(v.clientId(), v.user(), v.scope(), reason) : v);
    }

    /** The endpoint goes down for good: connections are refused. */
    public void stop() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }

    @Override
    public void close() {
        stop();
    }

    // ------------------------------------------------------------------------------------------- the user's side

    /** The user code of the newest device authorization. */
    public Optional<String> lastUserCode() {
        return deviceCodes.values().stream().max((a, b) -> a.expiresAt.compareTo(b.expiresAt)).map(d -> d.userCode);
    }

    /** {@code user} entered the code at the verification page and consented. */
    public void approveDeviceCode(String userCode, String user) {
        device(userCode).approvedUser = user;
    }

    public void declineDeviceCode(String userCode) {
        device(userCode).declined = true;
    }

    private DeviceAuthorization device(String userCode) {
        return deviceCodes.values().stream().filter(d -> d.userCode.equals(userCode)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no device authorization with user code " + userCode));
    }

    /** From now on {@code /authorize} redirects at once with a code for this user (null: shows a sign-in page). */
    public void signIn(String user) {
        this.signedInUser = user;
    }

    // ------------------------------------------------------------------------------------------- observations

    /** Whether {@code token} is a live access token for {@code user} (app-only tokens serve every user). */
    public boolean isValid(String token, String user) {
        IssuedAccessToken t = token == null ? null : accessTokens.get(token);
        if (t == null || !clock.get().isBefore(t.expiresAt())) {
            return false;
        }
        return t.user().map(u -> u.equalsIgnoreCase(user)).orElse(true);
    }

    /** When {@code token}, an access token this platform issued, expires. */
    public Optional<Instant> expiresAt(String token) {
        IssuedAccessToken t = token == null ? null : accessTokens.get(token);
        return t == null ? Optional.empty() : Optional.of(t.expiresAt());
    }

    /** Token endpoint requests with this {@code grant_type} (see the GRANT_ constants). */
    public int requests(String grantType) {
        AtomicInteger n = requestsByGrant.get(grantType);
        return n == null ? 0 : n.get();
    }

    /** All requests to any endpoint. */
    public int requests() {
        return requests.get();
    }

    /** Whether {@code refreshToken} would still be accepted. */
    public boolean refreshTokenValid(String refreshToken) {
        IssuedRefreshToken rt = refreshTokens.get(refreshToken);
        return rt != null && rt.reason() == null;
    }

    /** Every token endpoint request so far, oldest first. */
    public List<TokenRequest> tokenRequests() {
        return List.copyOf(tokenRequests);
    }

    /** The header of each client assertion received, decoded (JSON), for tests of x5t / x5t#S256. */
    public List<String> clientAssertionHeaders() {
        return List.copyOf(clientAssertionsSeen);
    }

    // ------------------------------------------------------------------------------------------- HTTP

    private void dispatch(HttpExchange exchange) throws IOException {
        try (exchange) {
            requests.incrementAndGet();
            if (failureStatus != 0) {
                send(exchange, failureStatus, "text/html", "<html><body>Service unavailable</body></html>");
                return;
            }
            String[] path = exchange.getRequestURI().getPath().split("/");
            // v1.0: "", tenant, "oauth2", "token" (the password grant with resource only)
            if (path.length == 4 && "oauth2".equals(path[2]) && "token".equals(path[3])) {
                tokenV1(exchange, path[1]);
                return;
            }
            // "", tenant, "oauth2", "v2.0", endpoint
            if (path.length != 5 || !"oauth2".equals(path[2]) || !"v2.0".equals(path[3])) {
                send(exchange, 404, "text/plain", "not found");
                return;
            }
            String tenant = path[1];
            switch (path[4]) {
                case "token" -> token(exchange, tenant);
                case "devicecode" -> deviceCode(exchange);
                case "authorize" -> authorize(exchange);
                default -> send(exchange, 404, "text/plain", "not found");
            }
        } catch (RuntimeException e) {
            send(exchange, 500, "text/plain", "fake identity platform failed: " + e);
        }
    }

    private void token(HttpExchange exchange, String tenant) throws IOException {
        if (!"POST".equals(exchange.getRequestMethod())) {
            error(exchange, 405, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a "
                    + exchange.getRequestMethod() + " request.");
            return;
        }
        Map<String, String> form = form(exchange);
        tokenRequests.add(new TokenRequest(exchange.getRequestURI().getPath(), Map.copyOf(form)));
        String grant = form.getOrDefault("grant_type", "");
        requestsByGrant.computeIfAbsent(grant, g -> new AtomicInteger()).incrementAndGet();
        Client client = authenticate(exchange, form, tenant);
        if (client == null) {
            return;
        }
        if (form.containsKey("resource")) {
            // the v2.0 endpoint takes scopes only (IBM support page ibm16469517 quotes this AADSTS901002 text)
            error(exchange, 400, "invalid_request", 901002, "The 'resource' request parameter is not supported.");
            return;
        }
        switch (grant) {
            case GRANT_CLIENT_CREDENTIALS -> {
                if (client.secret().isEmpty() && client.certificate().isEmpty()) {
                    error(exchange, 401, "invalid_client", 7000218, "The request body must contain the following"
                            + " parameter: 'client_assertion' or 'client_secret'.");
                    return;
                }
                String scope = form.getOrDefault("scope", "");
                if (!scope.endsWith("/.default")) {
                    error(exchange, 400, "invalid_scope", 1002012, "The provided value for scope " + scope
                            + " is not valid. Client credential flows must have a scope value with /.default suffixed"
                            + " to the resource identifier (application ID URI).");
                    return;
                }
                issue(exchange, client.id(), null, scope, false);
            }
            case GRANT_REFRESH_TOKEN -> {
                String presented = form.getOrDefault("refresh_token", "");
                IssuedRefreshToken rt = refreshTokens.get(presented);
                if (rt == null || !rt.clientId().equals(client.id())) {
                    error(exchange, 400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.");
                    return;
                }
                if ("revoked".equals(rt.reason())) {
                    error(exchange, 400, "invalid_grant", 50173, "The provided grant has expired due to it being"
                            + " revoked, a fresh auth token is needed. The user might have changed or reset their password.");
                    return;
                }
                if ("inactive".equals(rt.reason())) {
                    error(exchange, 400, "invalid_grant", 700082, "The refresh token has expired due to inactivity."
                            + " The token was issued on " + clock.get().minus(Duration.ofDays(91)) + " and was inactive"
                            + " for 90.00:00:00.");
                    return;
                }
                if ("used".equals(rt.reason())) {
                    error(exchange, 400, "invalid_grant", 70008, "The provided authorization code or refresh token"
                            + " has expired due to inactivity. Send a new interactive authorization request for this"
                            + " user and resource.");
                    return;
                }
                String scope = form.getOrDefault("scope", rt.scope());
                if (rotateRefreshTokens && invalidateUsedRefreshTokens) {
                    refreshTokens.put(presented, new IssuedRefreshToken(rt.clientId(), rt.user(), rt.scope(), "used"));
                }
                issue(exchange, client.id(), rt.user(), scope + " offline_access", !rotateRefreshTokens,
                        rotateRefreshTokens ? null : presented);
            }
            case GRANT_PASSWORD -> {
                String user = form.getOrDefault("username", "");
                String expected = users.get(user.toLowerCase(Locale.ROOT));
                if (expected == null || !expected.equals(form.get("password"))) {
                    error(exchange, 400, "invalid_grant", 50126, "Error validating credentials due to invalid"
                            + " username or password.");
                    return;
                }
                issue(exchange, client.id(), user, form.getOrDefault("scope", ""), false);
            }
            case GRANT_DEVICE_CODE -> deviceCodeGrant(exchange, client, form);
            case GRANT_AUTHORIZATION_CODE -> authorizationCodeGrant(exchange, client, form);
            default -> error(exchange, 400, "unsupported_grant_type", 70003, "The app requested an unsupported"
                    + " grant type '" + grant + "'.");
        }
    }

    /** Checks the client's authentication; answers the error itself and returns null when it fails. */
    private Client authenticate(HttpExchange exchange, Map<String, String> form, String tenant) throws IOException {
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
            if (!JWT_BEARER.equals(form.get("client_assertion_type"))) {
                error(exchange, 400, "invalid_request", 700026, "Client assertion type is not valid.");
                return null;
            }
            try {
                jwt = SignedJWT.parse(assertion);
                clientAssertionsSeen.add(jwt.getHeader().toString());
                if (clientId == null) {
                    clientId = jwt.getJWTClaimsSet().getSubject();
                }
            } catch (java.text.ParseException e) {
                error(exchange, 400, "invalid_client", 50027, "JWT token is invalid or malformed.");
                return null;
            }
        }
        Client client = clientId == null ? null : clients.get(clientId);
        if (client == null) {
            error(exchange, 400, "unauthorized_client", 700016, "Application with identifier '" + clientId
                    + "' was not found in the directory '" + tenant + "'. This can happen if the application has not"
                    + " been installed by the administrator of the tenant or consented to by any user in the tenant.");
            return null;
        }
        if (jwt != null) {
            return verifyAssertion(exchange, client, jwt, tenant) ? client : null;
        }
        if (secret != null) {
            if (client.secret().isEmpty() || !client.secret().get().equals(secret)) {
                error(exchange, 401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret"
                        + " being sent in the request is the client secret value, not the client secret ID, for a"
                        + " secret added to app '" + client.id() + "'.");
                return null;
            }
            return client;
        }
        if (client.secret().isPresent() || client.certificate().isPresent()) {
            error(exchange, 401, "invalid_client", 7000218, "The request body must contain the following parameter:"
                    + " 'client_assertion' or 'client_secret'.");
            return null;
        }
        return client;
    }

    @SuppressWarnings("deprecation") // Entra ID accepts the SHA-1 x5t as well as x5t#S256
    private boolean verifyAssertion(HttpExchange exchange, Client client, SignedJWT jwt, String tenant)
            throws IOException {
        if (client.certificate().isEmpty()) {
            error(exchange, 401, "invalid_client", 700027, "Client assertion failed signature validation."
                    + " No certificate is registered for app '" + client.id() + "'.");
            return false;
        }
        X509Certificate cert = client.certificate().get();
        Base64URL x5t = jwt.getHeader().getX509CertThumbprint();
        Base64URL x5tS256 = jwt.getHeader().getX509CertSHA256Thumbprint();
        boolean thumbprintMatches = (x5t != null && x5t.equals(thumbprint(cert, "SHA-1")))
                || (x5tS256 != null && x5tS256.equals(thumbprint(cert, "SHA-256")));
        if (!thumbprintMatches) {
            error(exchange, 401, "invalid_client", 700027, "Client assertion failed signature validation."
                    + " (Reason - The key was not found.)");
            return false;
        }
        try {
            JWSVerifier verifier = cert.getPublicKey() instanceof ECPublicKey ec ? new ECDSAVerifier(ec)
                    : new RSASSAVerifier((RSAPublicKey) cert.getPublicKey());
            if (!jwt.verify(verifier)) {
                error(exchange, 401, "invalid_client", 700027, "Client assertion failed signature validation.");
                return false;
            }
            JWTClaimsSet claims = jwt.getJWTClaimsSet();
            if (!client.id().equals(claims.getIssuer()) || !client.id().equals(claims.getSubject())) {
                error(exchange, 401, "invalid_client", 50048, "Subject mismatches Issuer claim in the client"
                        + " assertion.");
                return false;
            }
            if (claims.getAudience() == null || !claims.getAudience().contains(tokenEndpoint(tenant).toString())) {
                error(exchange, 401, "invalid_client", 700021, "Client assertion audience claim does not match"
                        + " Realm issuer. Review the documentation at"
                        + " https://learn.microsoft.com/entra/identity-platform/certificate-credentials .");
                return false;
            }
            Instant now = clock.get();
            Instant exp = claims.getExpirationTime() == null ? null : claims.getExpirationTime().toInstant();
            Instant nbf = claims.getNotBeforeTime() == null ? (claims.getIssueTime() == null ? null
                    : claims.getIssueTime().toInstant()) : claims.getNotBeforeTime().toInstant();
            if (exp == null || now.isAfter(exp.plus(ASSERTION_SKEW)) || (nbf != null && now.isBefore(nbf.minus(ASSERTION_SKEW)))) {
                error(exchange, 401, "invalid_client", 700024, "Client assertion is not within its valid time range."
                        + " Current time: " + iso(now) + ", assertion valid from " + (nbf == null ? "unknown" : iso(nbf))
                        + ", expiry time of assertion " + (exp == null ? "unknown" : iso(exp)) + ". Review the"
                        + " documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .");
                return false;
            }
            return true;
        } catch (JOSEException | java.text.ParseException | ClassCastException e) {
            error(exchange, 401, "invalid_client", 700027, "Client assertion failed signature validation.");
            return false;
        }
    }

    private void deviceCode(HttpExchange exchange) throws IOException {
        Map<String, String> form = form(exchange);
        String clientId = form.get("client_id");
        if (clientId == null || !clients.containsKey(clientId)) {
            error(exchange, 400, "unauthorized_client", 700016, "Application with identifier '" + clientId
                    + "' was not found in the directory.");
            return;
        }
        String deviceCode = "DAQABAAEAAA" + opaque();
        String userCode = userCode();
        Instant now = clock.get();
        DeviceAuthorization d = new DeviceAuthorization(clientId, userCode, form.getOrDefault("scope", ""),
                now.plusSeconds(deviceCodeLifetimeSeconds), deviceCodeIntervalSeconds);
        deviceCodes.put(deviceCode, d);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("user_code", userCode);
        body.put("device_code", deviceCode);
        body.put("verification_uri", "https://microsoft.com/devicelogin");
        body.put("expires_in", deviceCodeLifetimeSeconds);
        body.put("interval", deviceCodeIntervalSeconds);
        body.put("message", "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and"
                + " enter the code " + userCode + " to authenticate.");
        send(exchange, 200, "application/json; charset=utf-8", json(body));
    }

    private void deviceCodeGrant(HttpExchange exchange, Client client, Map<String, String> form) throws IOException {
        DeviceAuthorization d = deviceCodes.get(form.getOrDefault("device_code", ""));
        if (d == null || !d.clientId.equals(client.id())) {
            error(exchange, 400, "invalid_grant", 70000, "The provided value for the 'device_code' is not valid.");
            return;
        }
        Instant now = clock.get();
        synchronized (d) {
            if (!now.isBefore(d.expiresAt)) {
                error(exchange, 400, "expired_token", 70020, "The provided value for the input parameter"
                        + " 'device_code' is not valid. This device code has expired.");
                return;
            }
            if (d.declined) {
                error(exchange, 400, "authorization_declined", 70000, "The user declined the authorization request.");
                return;
            }
            if (d.approvedUser == null) {
                Instant last = d.lastPoll;
                d.lastPoll = now;
                if (last != null && now.isBefore(last.plusSeconds(d.intervalSeconds))) {
                    d.intervalSeconds += 5;
                    error(exchange, 400, "slow_down", 70016, "OAuth 2.0 device flow error. Polling too fast:"
                            + " wait the interval between requests.");
                    return;
                }
                error(exchange, 400, "authorization_pending", 70016, "OAuth 2.0 device flow error. Authorization is"
                        + " pending. Continue polling.");
                return;
            }
        }
        deviceCodes.remove(form.get("device_code"));
        issue(exchange, client.id(), d.approvedUser, d.scope, false);
    }

    private void authorize(HttpExchange exchange) throws IOException {
        Map<String, String> q = parse(exchange.getRequestURI().getRawQuery());
        Client client = clients.get(q.getOrDefault("client_id", ""));
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
        String user = signedInUser;
        if (user == null) {
            send(exchange, 200, "text/html", "<html><body>Sign in to your account</body></html>");
            return;
        }
        String code = "0.fake-code." + opaque();
        authorizationCodes.put(code, new PendingCode(client.id(), user, redirect, q.getOrDefault("scope", ""),
                q.get("code_challenge"), q.getOrDefault("code_challenge_method", "plain"),
                clock.get().plus(Duration.ofMinutes(10))));
        Map<String, String> params = new LinkedHashMap<>();
        params.put("code", code);
        if (q.containsKey("state")) {
            params.put("state", q.get("state"));
        }
        params.put("session_state", UUID.randomUUID().toString());
        redirect(exchange, redirect, params);
    }

    private void authorizationCodeGrant(HttpExchange exchange, Client client, Map<String, String> form)
            throws IOException {
        PendingCode pending = authorizationCodes.remove(form.getOrDefault("code", ""));
        if (pending == null || !pending.clientId().equals(client.id()) || !clock.get().isBefore(pending.expiresAt())) {
            error(exchange, 400, "invalid_grant", 70008, "The provided authorization code or refresh token has"
                    + " expired due to inactivity. Send a new interactive authorization request for this user and"
                    + " resource.");
            return;
        }
        if (!pending.redirectUri().equals(form.get("redirect_uri"))) {
            error(exchange, 400, "invalid_grant", 500112, "The reply address '" + form.get("redirect_uri")
                    + "' does not match the reply address '" + pending.redirectUri() + "' provided when requesting"
                    + " Authorization code.");
            return;
        }
        if (pending.challenge() != null) {
            String verifier = form.get("code_verifier");
            String computed = verifier == null ? null : "S256".equals(pending.challengeMethod())
                    ? Base64.getUrlEncoder().withoutPadding().encodeToString(sha256(verifier)) : verifier;
            if (!pending.challenge().equals(computed)) {
                error(exchange, 400, "invalid_grant", 501481, "The Code_Verifier does not match the code_challenge"
                        + " supplied in the authorization request.");
                return;
            }
        }
        issue(exchange, client.id(), pending.user(), form.getOrDefault("scope", pending.scope()), false);
    }

    private void issue(HttpExchange exchange, String clientId, String user, String scope, boolean noNewRefresh)
            throws IOException {
        issue(exchange, clientId, user, scope, noNewRefresh, null);
    }

    private void issue(HttpExchange exchange, String clientId, String user, String requestedScope,
                       boolean noNewRefresh, String keepRefresh) throws IOException {
        List<String> scopes = Arrays.stream(requestedScope.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList();
        String granted = scopes.stream().filter(s -> !NON_RESOURCE_SCOPES.contains(s)).distinct()
                .collect(Collectors.joining(" "));
        String at = "EwBIA8l6BAAU" + opaque() + opaque();
        long seconds = expiresIn.toSeconds();
        accessTokens.put(at, new IssuedAccessToken(clientId, Optional.ofNullable(user), granted,
                clock.get().plusSeconds(seconds)));
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
                rt = "1.fake-rt." + opaque();
                refreshTokens.put(rt, new IssuedRefreshToken(clientId, user, granted, null));
            }
            if (rt != null) {
                body.put("refresh_token", rt);
            }
        }
        send(exchange, 200, "application/json; charset=utf-8", json(body));
    }

    /**
     * The v1.0 token endpoint, password grant only: it names the resource ({@code resource=https://partner.outlook.cn})
     * instead of scopes, and answers {@code expires_in} as a string, with {@code expires_on} and {@code resource}.
     */
    private void tokenV1(HttpExchange exchange, String tenant) throws IOException {
        Map<String, String> form = form(exchange);
        tokenRequests.add(new TokenRequest(exchange.getRequestURI().getPath(), Map.copyOf(form)));
        String grant = form.getOrDefault("grant_type", "");
        requestsByGrant.computeIfAbsent(grant, g -> new AtomicInteger()).incrementAndGet();
        Client client = authenticate(exchange, form, tenant);
        if (client == null) {
            return;
        }
        String resource = form.get("resource");
        if (resource == null || resource.isEmpty()) {
            error(exchange, 400, "invalid_request", 900144, "The request body must contain the following parameter:"
                    + " 'resource'.");
            return;
        }
        if (!GRANT_PASSWORD.equals(grant)) {
            error(exchange, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"
                    + grant + "'.");
            return;
        }
        String user = form.getOrDefault("username", "");
        String expected = users.get(user.toLowerCase(Locale.ROOT));
        if (expected == null || !expected.equals(form.get("password"))) {
            error(exchange, 400, "invalid_grant", 50126, "Error validating credentials due to invalid username or"
                    + " password.");
            return;
        }
        String at = "EwBIA8l6BAAU" + opaque() + opaque();
        long seconds = expiresIn.toSeconds();
        Instant expiresAt = clock.get().plusSeconds(seconds);
        accessTokens.put(at, new IssuedAccessToken(client.id(), Optional.of(user), resource, expiresAt));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("token_type", "Bearer");
        body.put("scope", form.getOrDefault("scope", ""));
        body.put("expires_in", String.valueOf(seconds));
        body.put("ext_expires_in", String.valueOf(seconds));
        body.put("expires_on", String.valueOf(expiresAt.getEpochSecond()));
        body.put("not_before", String.valueOf(clock.get().getEpochSecond()));
        body.put("resource", resource);
        body.put("access_token", at);
        send(exchange, 200, "application/json; charset=utf-8", json(body));
    }

    /** An RS256 ID token as the v2.0 endpoint issues it (see the class comment for the claims). */
    private String idToken(String clientId, String user, boolean profile) {
        Instant now = clock.get();
        JWTClaimsSet.Builder claims = new JWTClaimsSet.Builder()
                .audience(clientId)
                .issuer("https://login.microsoftonline.com/" + tenantId + "/v2.0")
                .issueTime(java.util.Date.from(now))
                .notBeforeTime(java.util.Date.from(now))
                .expirationTime(java.util.Date.from(now.plus(Duration.ofHours(1))))
                .subject(opaque())
                .claim("tid", tenantId)
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

    private void error(HttpExchange exchange, int status, String error, long code, String text) throws IOException {
        Instant now = clock.get();
        String traceId = UUID.randomUUID().toString();
        String correlationId = UUID.randomUUID().toString();
        String ts = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'").withZone(java.time.ZoneOffset.UTC).format(now);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", error);
        body.put("error_description", "AADSTS" + code + ": " + text + "\r\nTrace ID: " + traceId
                + "\r\nCorrelation ID: " + correlationId + "\r\nTimestamp: " + ts);
        body.put("error_codes", List.of(code));
        body.put("timestamp", ts);
        body.put("trace_id", traceId);
        body.put("correlation_id", correlationId);
        body.put("error_uri", baseUri() + "/error?code=" + code);
        send(exchange, status, "application/json; charset=utf-8", json(body));
    }

    // ------------------------------------------------------------------------------------------- helpers

    private static void redirect(HttpExchange exchange, String redirectUri, Map<String, String> params)
            throws IOException {
        String query = params.entrySet().stream()
                .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                        + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        exchange.getResponseHeaders().set("Location", redirectUri + (redirectUri.contains("?") ? "&" : "?") + query);
        exchange.sendResponseHeaders(302, -1);
    }

    private static void send(HttpExchange exchange, int status, String type, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.getResponseHeaders().set("Cache-Control", "no-store, no-cache");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static Map<String, String> form(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
    }

    private static Map<String, String> parse(String query) {
        Map<String, String> out = new LinkedHashMap<>();
        if (query == null || query.isEmpty()) {
            return out;
        }
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            String k = eq < 0 ? pair : pair.substring(0, eq);
            String v = eq < 0 ? "" : pair.substring(eq + 1);
            out.put(URLDecoder.decode(k, StandardCharsets.UTF_8), URLDecoder.decode(v, StandardCharsets.UTF_8));
        }
        return out;
    }

    private String opaque() {
        byte[] b = new byte[24];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    private String userCode() {
        String alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 9; i++) {
            sb.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        return sb.toString();
    }

    private static Base64URL thumbprint(X509Certificate cert, String algorithm) {
        try {
            return Base64URL.encode(MessageDigest.getInstance(algorithm).digest(cert.getEncoded()));
        } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.US_ASCII));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String iso(Instant t) {
        return DateTimeFormatter.ISO_INSTANT.format(t);
    }

    /** Minimal JSON for flat objects of strings, numbers and lists of numbers. */
    static String json(Map<String, Object> map) {
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, Object> e : map.entrySet()) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            sb.append(quote(e.getKey())).append(':');
            Object v = e.getValue();
            if (v instanceof Number) {
                sb.append(v);
            } else if (v instanceof List<?> list) {
                sb.append('[').append(list.stream().map(String::valueOf).collect(Collectors.joining(","))).append(']');
            } else {
                sb.append(quote(String.valueOf(v)));
            }
        }
        return sb.append('}').toString();
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\r' -> sb.append("\\r");
                case '\n' -> sb.append("\\n");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    @Override
    public String toString() {
        return "FakeIdentityPlatform[" + baseUri() + "]";
    }
}
