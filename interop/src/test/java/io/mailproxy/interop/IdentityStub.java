package io.mailproxy.interop;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.mailproxy.testkit.FakeIdentityPlatform;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The identity side of the OAuth path: testkit's {@link FakeIdentityPlatform} issues the proxy's app-only tokens
 * (client-credentials grant, Microsoft's formats), and a token introspection URL (RFC 7662 shape) on loopback HTTP
 * tells Dovecot's oauth2 passdb whom a bearer token belongs to.
 *
 * <p>Dovecot 2.3's introspection request carries only the token, not the user logging in (a {@code %u} in the URL
 * is not expanded, and makes its auth process panic), and it compares the returned username with the login. So an
 * app-only token answers for the one mailbox the proxy opens with OAuth, {@link Interop#OAUTH_USER}. Dovecot 2.3
 * turns a 401 into an internal error ({@code NO [UNAVAILABLE]}), so an invalid token gets 200 with
 * {@code active=false}.
 */
final class IdentityStub implements AutoCloseable {

    static final String TENANT = "interop.example.test";

    final FakeIdentityPlatform platform;
    /** A second identity platform, answering 500 to every request until {@code flaky.failWith(0)}. */
    final FakeIdentityPlatform flaky;
    private final String flakyUser;
    /**
     * A third one whose access tokens live {@link #SHORT_LIFETIME}: app-only tokens open {@link Interop#IDLE_USER}
     * (a token expiring under an IMAP IDLE), delegated ones (device code, then refresh tokens) open
     * {@link Interop#DELEGATED_USER} (a refresh token revoked).
     */
    final FakeIdentityPlatform shortLived;
    static final java.time.Duration SHORT_LIFETIME = java.time.Duration.ofSeconds(45);
    final String clientId = "interop-client";
    final String clientSecret = "interop-secret-" + Long.toHexString(new SecureRandom().nextLong());
    private final HttpServer server;
    private final ExecutorService executor;
    private final Map<String, String> minted = new ConcurrentHashMap<>();
    private final String appUser;
    private final AtomicInteger introspections = new AtomicInteger();
    /** Per user, when the last token Dovecot accepted for it from {@link #shortLived} expires. */
    private final Map<String, java.time.Instant> shortLivedExpiry = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();

    /** {@code appUser}, {@code flakyUser}: the mailboxes app-only tokens of each platform open. */
    IdentityStub(String appUser, String flakyUser) throws IOException {
        this.appUser = appUser;
        this.flakyUser = flakyUser;
        platform = FakeIdentityPlatform.start().registerClient(clientId, clientSecret);
        flaky = FakeIdentityPlatform.start().registerClient(clientId, clientSecret);
        flaky.failWith(500);
        shortLived = FakeIdentityPlatform.start().registerClient(clientId, clientSecret).expiresIn(SHORT_LIFETIME)
                .deviceCodeTiming(1, 300);
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 50);
        executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "introspection");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/introspect", this::introspect);
        server.start();
    }

    String tokenEndpoint() {
        return platform.tokenEndpoint(TENANT).toString();
    }

    String introspectionUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/introspect";
    }

    /** A token valid for {@code user} alone, for direct tests against Dovecot. */
    String mint(String user) {
        byte[] b = new byte[24];
        random.nextBytes(b);
        String token = "direct-" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
        minted.put(token, user);
        return token;
    }

    /** Token requests with the client-credentials grant so far. */
    int tokensIssued() {
        return platform.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS);
    }

    /** When the token of {@link #shortLived} that Dovecot last accepted for {@code user} expires. */
    java.util.Optional<java.time.Instant> lastAcceptedExpiry(String user) {
        return java.util.Optional.ofNullable(shortLivedExpiry.get(user));
    }

    int introspections() {
        return introspections.get();
    }

    private void introspect(HttpExchange ex) throws IOException {
        try (ex) {
            introspections.incrementAndGet();
            String token = form(ex).get("token");
            String user = token == null ? null
                    : minted.containsKey(token) ? minted.get(token)
                    : platform.isValid(token, appUser) ? appUser
                    : flaky.isValid(token, flakyUser) ? flakyUser
                    : shortLived(token);
            reply(ex, 200, user != null ? "{\"active\":\"true\",\"username\":\"" + user + "\"}"
                    : "{\"active\":\"false\",\"username\":\"nobody@invalid\"}");
        }
    }

    /** An app-only token is valid for any user, a delegated one for its own: tell them apart by a user nobody is. */
    private String shortLived(String token) {
        String user = shortLived.isValid(token, "nobody@invalid") ? Interop.IDLE_USER
                : shortLived.isValid(token, Interop.DELEGATED_USER) ? Interop.DELEGATED_USER : null;
        if (user != null) {
            shortLived.expiresAt(token).ifPresent(at -> shortLivedExpiry.put(user, at));
        }
        return user;
    }

    private static Map<String, String> form(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        Map<String, String> m = new HashMap<>();
        for (String kv : body.split("&")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                m.put(URLDecoder.decode(kv.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return m;
    }

    private static void reply(HttpExchange ex, int status, String json) throws IOException {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(b);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        platform.close();
        flaky.close();
        shortLived.close();
    }
}
