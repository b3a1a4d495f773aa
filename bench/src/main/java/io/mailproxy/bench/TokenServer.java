package io.mailproxy.bench;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The benchmark's identity provider on loopback: an OAuth 2.0 token endpoint (ROPC and client credentials, opaque
 * tokens with {@code expires_in}) for the proxy, and the introspection endpoint Dovecot's oauth2 passdb asks
 * ({@code {"active":"true","username":...}} for a token it minted, {@code active=false} otherwise: Dovecot 2.3
 * turns a 401 into an internal error).
 */
final class TokenServer implements AutoCloseable {

    private final HttpServer server;
    private final Map<String, String> tokens = new ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    final AtomicLong issued = new AtomicLong();
    final AtomicLong introspections = new AtomicLong();
    /** Told of every token minted (token, user; "" for client credentials): how the fake Graph learns them. */
    volatile java.util.function.BiConsumer<String, String> onMint = (token, user) -> { };

    TokenServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 256);
        server.setExecutor(Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "bench-idp");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/token", this::token);
        server.createContext("/introspect", this::introspect);
        server.start();
    }

    String tokenEndpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/token";
    }

    String introspectionUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/introspect";
    }

    /** A token for {@code user}, as the direct clients use (minted without an HTTP round trip). */
    String mint(String user) {
        byte[] b = new byte[24];
        random.nextBytes(b);
        String token = "bench." + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
        tokens.put(token, user);
        onMint.accept(token, user);
        issued.incrementAndGet();
        return token;
    }

    private void token(HttpExchange ex) throws IOException {
        Map<String, String> form = form(ex);
        String grant = form.getOrDefault("grant_type", "");
        String user = switch (grant) {
            case "password" -> form.get("username");
            case "client_credentials" -> "";
            default -> null;
        };
        if (user == null) {
            reply(ex, 400, "{\"error\":\"unsupported_grant_type\"}");
            return;
        }
        String token = mint(user);
        reply(ex, 200, "{\"access_token\":\"" + token + "\",\"token_type\":\"Bearer\",\"expires_in\":3600,"
                + "\"scope\":\"" + form.getOrDefault("scope", "") + "\"}");
    }

    private void introspect(HttpExchange ex) throws IOException {
        introspections.incrementAndGet();
        String user = tokens.get(form(ex).getOrDefault("token", ""));
        reply(ex, 200, user == null ? "{\"active\":\"false\",\"username\":\"\"}"
                : "{\"active\":\"true\",\"username\":\"" + user + "\"}");
    }

    private static Map<String, String> form(HttpExchange ex) throws IOException {
        String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        Map<String, String> out = new HashMap<>();
        for (String pair : body.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                out.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private static void reply(HttpExchange ex, int status, String json) throws IOException {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
