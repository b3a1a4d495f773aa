package io.mailproxy.interop;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
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
import java.util.concurrent.atomic.AtomicReference;

/**
 * The identity side of the OAuth path on loopback HTTP: an OAuth 2.0 token endpoint (client-credentials grant,
 * Microsoft's JSON shape) that the proxy asks for tokens, and the token introspection URL (RFC 7662 shape) that
 * Dovecot's oauth2 passdb asks whether a bearer token is valid for the user logging in.
 *
 * <p>Dovecot 2.3 reports an internal error ({@code NO [UNAVAILABLE]}) when the introspection URL answers 401, so an
 * invalid token gets 200 with {@code active=false}.
 */
final class IdentityStub implements AutoCloseable {

    /** How the token endpoint behaves (fault tests switch it). */
    enum TokenMode { ISSUE, FAIL_500 }

    private final HttpServer server;
    private final ExecutorService executor;
    private final Map<String, String> validTokens = new ConcurrentHashMap<>();
    private final String appUser;
    private final AtomicReference<TokenMode> mode = new AtomicReference<>(TokenMode.ISSUE);
    private final AtomicInteger tokensIssued = new AtomicInteger();
    private final AtomicInteger introspections = new AtomicInteger();
    private final SecureRandom random = new SecureRandom();
    final String clientId = "interop-client";
    final String clientSecret = "interop-secret-" + Long.toHexString(new SecureRandom().nextLong());

    /** {@code appUser}: the mailbox an app-only (client-credentials) token opens. */
    IdentityStub(String appUser) throws IOException {
        this.appUser = appUser;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 50);
        executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "identity-stub");
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(executor);
        server.createContext("/token", this::token);
        server.createContext("/introspect", this::introspect);
        server.start();
    }

    String tokenEndpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
    }

    /**
     * Dovecot 2.3's introspection request carries only the token (no user: a %u in the URL is not expanded and
     * makes the auth process panic), so a token names the one user it is valid for and Dovecot compares it with the
     * login.
     */
    String introspectionUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/introspect";
    }

    void mode(TokenMode m) {
        mode.set(m);
    }

    /** Makes a token valid for {@code user} (direct tests against Dovecot). */
    String mint(String user) {
        String token = newToken();
        validTokens.put(token, user);
        return token;
    }

    void revokeAll() {
        validTokens.clear();
    }

    int tokensIssued() {
        return tokensIssued.get();
    }

    int introspections() {
        return introspections.get();
    }

    private String newToken() {
        byte[] b = new byte[24];
        random.nextBytes(b);
        return "tok-" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    private void token(HttpExchange ex) throws IOException {
        try (ex) {
            Map<String, String> form = form(ex);
            if (mode.get() == TokenMode.FAIL_500) {
                reply(ex, 500, "{\"error\":\"temporarily_unavailable\",\"error_description\":\"AADSTS90033: A transient error has occurred.\"}");
                return;
            }
            if (!"client_credentials".equals(form.get("grant_type"))) {
                reply(ex, 400, "{\"error\":\"unsupported_grant_type\"}");
                return;
            }
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            String id = form.get("client_id");
            String secret = form.get("client_secret");
            if (auth != null && auth.startsWith("Basic ")) {
                String[] idSecret = new String(Base64.getDecoder().decode(auth.substring(6)), StandardCharsets.UTF_8)
                        .split(":", 2);
                id = URLDecoder.decode(idSecret[0], StandardCharsets.UTF_8);
                secret = idSecret.length > 1 ? URLDecoder.decode(idSecret[1], StandardCharsets.UTF_8) : null;
            }
            if (!clientId.equals(id) || !clientSecret.equals(secret)) {
                reply(ex, 401, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret provided.\"}");
                return;
            }
            String token = newToken();
            validTokens.put(token, appUser);
            tokensIssued.incrementAndGet();
            reply(ex, 200, "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,\"access_token\":\""
                    + token + "\"}");
        }
    }

    private void introspect(HttpExchange ex) throws IOException {
        try (ex) {
            introspections.incrementAndGet();
            Map<String, String> form = form(ex);
            String token = form.get("token");
            String user = token == null ? null : validTokens.get(token);
            boolean ok = user != null;
            // never 401: Dovecot 2.3 turns it into an internal error
            reply(ex, 200, ok ? "{\"active\":\"true\",\"username\":\"" + user + "\"}"
                    : "{\"active\":\"false\",\"username\":\"nobody@invalid\"}");
        }
    }

    private static Map<String, String> form(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        return parse(body);
    }

    private static Map<String, String> parse(String s) {
        Map<String, String> m = new HashMap<>();
        for (String kv : s.split("&")) {
            if (kv.isEmpty()) {
                continue;
            }
            int eq = kv.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
            m.put(k, v);
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
    }
}
