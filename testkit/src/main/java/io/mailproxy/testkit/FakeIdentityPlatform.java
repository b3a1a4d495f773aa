package io.mailproxy.testkit;

import static io.mailproxy.testkit.IdpHttp.send;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;


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
 * <p>The endpoints live beside it: {@link TokenEndpoint} (with {@link ClientAuthentication}), {@link DeviceCodeFlow},
 * {@link AuthorizationCodeFlow}, {@link TokenIssuer} (access, refresh and ID tokens), {@link IdpHttp}; what they
 * share is {@link IdpState}.
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

    private final HttpServer server;
    private final IdpState state = new IdpState();
    private final TokenIssuer issuer = new TokenIssuer(state);
    private final DeviceCodeFlow deviceCodes = new DeviceCodeFlow(state, issuer);
    private final AuthorizationCodeFlow authorizationCodes = new AuthorizationCodeFlow(state, issuer);
    private final TokenEndpoint tokens = new TokenEndpoint(state, issuer, deviceCodes, authorizationCodes);

    /**
     * One request to a token endpoint: its path ({@code /contoso/oauth2/v2.0/token} or the v1.0
     * {@code /contoso/oauth2/token}) and form parameters (secrets included: a test fake).
     */
    public record TokenRequest(String path, Map<String, String> form) { }

    /** The user a live delegated access token was issued to; empty for an app-only, expired or unknown token. */
    public Optional<String> delegatedUser(String token) {
        IdpState.IssuedAccessToken t = token == null ? null : state.accessTokens.get(token);
        if (t == null || !state.now().isBefore(t.expiresAt())) {
            return Optional.empty();
        }
        return t.user();
    }

    private FakeIdentityPlatform() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        server.createContext("/", this::dispatch);
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "fake-identity-platform");
            t.setDaemon(true);
            return t;
        }));
        server.start();
        state.baseUri = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
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
        return state.baseUri;
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
        state.clock = clock::instant;
        return this;
    }

    /** A confidential client authenticating with {@code client_secret}. */
    public FakeIdentityPlatform registerClient(String clientId, String secret) {
        state.clients.put(clientId, new IdpState.Client(clientId, Optional.of(secret), Optional.empty()));
        return this;
    }

    /** A confidential client authenticating with a private_key_jwt assertion signed by this certificate's key. */
    public FakeIdentityPlatform registerCertificateClient(String clientId, X509Certificate certificate) {
        state.clients.put(clientId, new IdpState.Client(clientId, Optional.empty(), Optional.of(certificate)));
        return this;
    }

    /** A public client (device code, authorization code with PKCE, ROPC, refresh without a secret). */
    public FakeIdentityPlatform registerPublicClient(String clientId) {
        state.clients.put(clientId, new IdpState.Client(clientId, Optional.empty(), Optional.empty()));
        return this;
    }

    public FakeIdentityPlatform addUser(String user, String password) {
        state.users.put(user.toLowerCase(Locale.ROOT), password);
        return this;
    }

    /** A refresh token as if {@code user} had consented earlier (to seed a secret store). */
    public String issueRefreshToken(String clientId, String user, String scope) {
        String rt = "1.fake-rt." + state.opaque();
        state.refreshTokens.put(rt, new IdpState.IssuedRefreshToken(clientId, user, scope, null));
        return rt;
    }

    /** {@code expires_in} of new access tokens (default 3599 s, as Entra ID answers). */
    public FakeIdentityPlatform expiresIn(Duration expiresIn) {
        state.expiresIn = expiresIn;
        return this;
    }

    /** Whether a refresh returns a new refresh token (default true) and whether the used one stops working. */
    public FakeIdentityPlatform rotation(boolean rotate, boolean invalidateUsed) {
        state.rotateRefreshTokens = rotate;
        state.invalidateUsedRefreshTokens = invalidateUsed;
        return this;
    }

    public FakeIdentityPlatform deviceCodeTiming(int intervalSeconds, int lifetimeSeconds) {
        state.deviceCodeIntervalSeconds = intervalSeconds;
        state.deviceCodeLifetimeSeconds = lifetimeSeconds;
        return this;
    }

    // ------------------------------------------------------------------------------------------- faults

    /** Every request answers this HTTP status (500, 503 ...) with an HTML error page; 0 turns it off. */
    public void failWith(int httpStatus) {
        state.failureStatus = httpStatus;
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
        state.refreshTokens.replaceAll((k, v) -> v.user().equalsIgnoreCase(user)
                ? new IdpState.IssuedRefreshToken(v.clientId(), v.user(), v.scope(), reason) : v);
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

    /**
     * The resource scopes {@code user} consented to for {@code clientId} at interactive sign-ins (authorize and device
     * code requests name every resource to consent to; a token is issued for one); empty when none was recorded, and
     * then refresh grants are not checked against consent.
     */
    public java.util.Set<String> consentedScopes(String clientId, String user) {
        return java.util.Set.copyOf(state.consents.getOrDefault(IdpState.consentKey(clientId, user),
                java.util.Set.of()));
    }

    /** The user code of the newest device authorization. */
    public Optional<String> lastUserCode() {
        return deviceCodes.lastUserCode();
    }

    /** {@code user} entered the code at the verification page and consented. */
    public void approveDeviceCode(String userCode, String user) {
        deviceCodes.approve(userCode, user);
    }

    public void declineDeviceCode(String userCode) {
        deviceCodes.decline(userCode);
    }


    /** From now on {@code /authorize} redirects at once with a code for this user (null: shows a sign-in page). */
    public void signIn(String user) {
        state.signedInUser = user;
    }

    // ------------------------------------------------------------------------------------------- observations

    /** Whether {@code token} is a live access token for {@code user} (app-only tokens serve every user). */
    public boolean isValid(String token, String user) {
        IdpState.IssuedAccessToken t = token == null ? null : state.accessTokens.get(token);
        if (t == null || !state.now().isBefore(t.expiresAt())) {
            return false;
        }
        return t.user().map(u -> u.equalsIgnoreCase(user)).orElse(true);
    }

    /**
     * An access token this platform issued, as a resource server sees it once it validated it (FakeGraph reads the
     * audience and permissions from it).
     *
     * @param user    the signed-in user of a delegated token; empty for an app-only token
     * @param scope   the granted scopes as the token response named them, space-separated (resource URIs kept)
     * @param expired whether it has expired by this platform's clock
     */
    public record AccessToken(String clientId, Optional<String> user, String scope, Instant expiresAt,
                              boolean expired) { }

    /** What this platform issued as {@code token}; empty for a token it never issued. */
    public Optional<AccessToken> accessToken(String token) {
        IdpState.IssuedAccessToken t = token == null ? null : state.accessTokens.get(token);
        if (t == null) {
            return Optional.empty();
        }
        return Optional.of(new AccessToken(t.clientId(), t.user(), t.scope(), t.expiresAt(),
                !state.now().isBefore(t.expiresAt())));
    }

    /** When {@code token}, an access token this platform issued, expires. */
    public Optional<Instant> expiresAt(String token) {
        IdpState.IssuedAccessToken t = token == null ? null : state.accessTokens.get(token);
        return t == null ? Optional.empty() : Optional.of(t.expiresAt());
    }

    /** Token endpoint requests with this {@code grant_type} (see the GRANT_ constants). */
    public int requests(String grantType) {
        AtomicInteger n = state.requestsByGrant.get(grantType);
        return n == null ? 0 : n.get();
    }

    /** All requests to any endpoint. */
    public int requests() {
        return state.requests.get();
    }

    /** Whether {@code refreshToken} would still be accepted. */
    public boolean refreshTokenValid(String refreshToken) {
        IdpState.IssuedRefreshToken rt = state.refreshTokens.get(refreshToken);
        return rt != null && rt.reason() == null;
    }

    /** Every token endpoint request so far, oldest first. */
    public List<TokenRequest> tokenRequests() {
        return List.copyOf(state.tokenRequests);
    }

    /** The header of each client assertion received, decoded (JSON), for tests of x5t / x5t#S256. */
    public List<String> clientAssertionHeaders() {
        return List.copyOf(state.clientAssertionsSeen);
    }

    // ------------------------------------------------------------------------------------------- HTTP

    private void dispatch(HttpExchange exchange) throws IOException {
        try (exchange) {
            state.requests.incrementAndGet();
            if (state.failureStatus != 0) {
                send(exchange, state.failureStatus, "text/html", "<html><body>Service unavailable</body></html>");
                return;
            }
            String[] path = exchange.getRequestURI().getPath().split("/");
            // v1.0: "", tenant, "oauth2", "token" (the password grant with resource only)
            if (path.length == 4 && "oauth2".equals(path[2]) && "token".equals(path[3])) {
                tokens.v1(exchange, path[1]);
                return;
            }
            // "", tenant, "oauth2", "v2.0", endpoint
            if (path.length != 5 || !"oauth2".equals(path[2]) || !"v2.0".equals(path[3])) {
                send(exchange, 404, "text/plain", "not found");
                return;
            }
            String tenant = path[1];
            switch (path[4]) {
                case "token" -> tokens.v2(exchange, tenant);
                case "devicecode" -> deviceCodes.start(exchange);
                case "authorize" -> authorizationCodes.authorize(exchange);
                default -> send(exchange, 404, "text/plain", "not found");
            }
        } catch (RuntimeException e) {
            send(exchange, 500, "text/plain", "fake identity platform failed: " + e);
        }
    }


    @Override
    public String toString() {
        return "FakeIdentityPlatform[" + baseUri() + "]";
    }
}
