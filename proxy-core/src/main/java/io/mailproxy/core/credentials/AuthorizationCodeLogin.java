package io.mailproxy.core.credentials;

import com.nimbusds.oauth2.sdk.AuthorizationCode;
import com.nimbusds.oauth2.sdk.AuthorizationCodeGrant;
import com.nimbusds.oauth2.sdk.AuthorizationErrorResponse;
import com.nimbusds.oauth2.sdk.AuthorizationRequest;
import com.nimbusds.oauth2.sdk.AuthorizationResponse;
import com.nimbusds.oauth2.sdk.ParseException;
import com.nimbusds.oauth2.sdk.ResponseType;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.id.ClientID;
import com.nimbusds.oauth2.sdk.id.State;
import com.nimbusds.oauth2.sdk.pkce.CodeChallengeMethod;
import com.nimbusds.oauth2.sdk.pkce.CodeVerifier;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * An authorization-code login with PKCE (RFC 7636, S256) in progress. Open {@link #authorizationUri()} in a
 * browser; the redirect back carries the code. Either a loopback listener catches it ({@link #result()} completes by
 * itself), or the user pastes the URL the browser ended on into {@link #complete(String)} (servers without a
 * browser: the page fails to load, the address bar still holds the code). The {@code state} is checked either way.
 */
public final class AuthorizationCodeLogin implements AutoCloseable {
    static final URI DEFAULT_REDIRECT = URI.create("http://localhost/");

    private final TokenService service;
    private final OAuth2ProviderConfig provider;
    private final String principal;
    private final Scope scope;
    /** The code redemption's scope: one resource only (AADSTS28000 otherwise; {@link LoginConsent}). */
    private final Scope redeemScope;
    private final State state = new State();
    private final CodeVerifier verifier = new CodeVerifier();
    private final URI redirectUri;
    private final URI authorizationUri;
    private final HttpServer listener;
    private final CompletableFuture<LoginResult> result = new CompletableFuture<>();

    private AuthorizationCodeLogin(TokenService service, OAuth2ProviderConfig provider, String principal, Scope scope,
                                   Scope redeemScope, URI redirectUri, HttpServer listener) {
        this.service = service;
        this.provider = provider;
        this.principal = principal;
        this.scope = scope;
        this.redeemScope = redeemScope;
        this.redirectUri = redirectUri;
        this.listener = listener;
        this.authorizationUri = new AuthorizationRequest.Builder(new ResponseType(ResponseType.Value.CODE),
                new ClientID(provider.clientId()))
                .endpointURI(provider.authorizationEndpoint())
                .redirectionURI(redirectUri)
                .scope(scope)
                .state(state)
                .codeChallenge(verifier, CodeChallengeMethod.S256)
                .customParameter("login_hint", principal)
                .build()
                .toURI();
    }

    static AuthorizationCodeLogin start(TokenService service, OAuth2ProviderConfig provider, String principal,
                                        Scope scope, Scope redeemScope, boolean listen) throws TokenException {
        if (provider.authorizationEndpoint() == null) {
            throw new TokenException(TokenException.Reason.CONFIGURATION, "provider " + provider.name()
                    + " has no authorization endpoint");
        }
        URI redirect = provider.redirectUri().orElse(DEFAULT_REDIRECT);
        if (!listen) {
            return new AuthorizationCodeLogin(service, provider, principal, scope, redeemScope, redirect, null);
        }
        if (!"http".equals(redirect.getScheme()) || !isLoopback(redirect.getHost())) {
            throw new TokenException(TokenException.Reason.CONFIGURATION, "redirect URI " + redirect + " of provider "
                    + provider.name() + " is not http://localhost or a loopback address: paste the redirect URL instead");
        }
        HttpServer server;
        try {
            InetAddress bind = "localhost".equalsIgnoreCase(redirect.getHost())
                    ? InetAddress.getLoopbackAddress() : InetAddress.getByName(redirect.getHost());
            server = HttpServer.create(new InetSocketAddress(bind, Math.max(redirect.getPort(), 0)), 4);
        } catch (IOException e) {
            throw new TokenException(TokenException.Reason.CONFIGURATION, "cannot listen on " + redirect + ": "
                    + e.getMessage(), null, java.util.List.of(), null);
        }
        URI actual;
        try {
            String path = redirect.getRawPath() == null || redirect.getRawPath().isEmpty() ? "/" : redirect.getRawPath();
            actual = new URI("http", null, redirect.getHost(), server.getAddress().getPort(), path, null, null);
        } catch (URISyntaxException e) {
            server.stop(0);
            throw new TokenException(TokenException.Reason.CONFIGURATION, "bad redirect URI " + redirect);
        }
        AuthorizationCodeLogin login = new AuthorizationCodeLogin(service, provider, principal, scope, redeemScope,
                actual, server);
        server.createContext(actual.getRawPath(), login::handle);
        server.start();
        return login;
    }

    private static boolean isLoopback(String host) {
        if (host == null) {
            return false;
        }
        if ("localhost".equalsIgnoreCase(host)) {
            return true;
        }
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (IOException e) {
            return false;
        }
    }

    /** Open this in a browser. */
    public URI authorizationUri() {
        return authorizationUri;
    }

    /** Where the provider sends the browser back (with the listener's actual port). */
    public URI redirectUri() {
        return redirectUri;
    }

    /** Completes when the refresh token is stored: by the listener, or after {@link #complete(String)}. */
    public CompletableFuture<LoginResult> result() {
        return result;
    }

    /**
     * Finishes the login with the URL the browser was redirected to (pasted by the user): checks {@code state},
     * redeems the code with the PKCE verifier, stores the refresh token. Blocking; returns the same as
     * {@link #result()}.
     */
    public CompletableFuture<LoginResult> complete(String redirectedUrl) {
        URI uri;
        try {
            uri = new URI(redirectedUrl.strip());
        } catch (URISyntaxException e) {
            fail(new TokenException(TokenException.Reason.LOGIN_FAILED, "that is not a URL; paste the whole address"
                    + " the browser ended on (it starts with " + redirectUri + ")"));
            return result;
        }
        CompletableFuture.runAsync(() -> redeem(uri), service.executor());
        return result;
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            URI requested = exchange.getRequestURI();
            String query = requested.getRawQuery();
            if (query == null || !(query.contains("code=") || query.contains("error="))) {
                respond(exchange, 404, "Not the redirect mailproxy is waiting for.");
                return;
            }
            URI full = redirectUri.resolve(requested);
            if (!state.getValue().equals(queryParameter(query, "state"))) {
                // Any local process or web page can send a request here: one without this login's state is
                // turned away, and the login keeps waiting for the real redirect.
                respond(exchange, 400, "This redirect is not for the sign-in mailproxy is waiting for.");
                return;
            }
            if (result.isDone()) {
                respond(exchange, 409, "This login is already finished. You can close this window.");
                return;
            }
            try {
                redeem(full);
                result.join();
                respond(exchange, 200, "mailproxy: sign-in complete, the refresh token is stored. You can close this window.");
            } catch (CompletionException e) {
                respond(exchange, 400, "mailproxy: sign-in failed: " + e.getCause().getMessage());
            }
        } finally {
            if (result.isDone()) {
                close();
            }
        }
    }

    private static String queryParameter(String rawQuery, String name) {
        for (String pair : rawQuery.split("&")) {
            int eq = pair.indexOf('=');
            String key = eq < 0 ? pair : pair.substring(0, eq);
            if (key.equals(name)) {
                return java.net.URLDecoder.decode(eq < 0 ? "" : pair.substring(eq + 1), StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    private static void respond(HttpExchange exchange, int status, String text) throws IOException {
        String html = "<!doctype html><meta charset=utf-8><title>mailproxy</title><p>"
                + text.replace("&", "&amp;").replace("<", "&lt;") + "</p>";
        byte[] body = html.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private synchronized void redeem(URI redirected) {
        if (result.isDone()) {
            return;
        }
        try {
            AuthorizationResponse response;
            java.util.Map<String, java.util.List<String>> raw;
            try {
                response = AuthorizationResponse.parse(redirected);
                raw = AuthorizationResponse.parseResponseParameters(redirected);
            } catch (ParseException e) {
                throw new TokenException(TokenException.Reason.LOGIN_FAILED, "the redirect URL holds neither a code"
                        + " nor an error; paste the whole address the browser ended on");
            }
            if (!state.equals(response.getState())) {
                throw new TokenException(TokenException.Reason.LOGIN_FAILED, "the redirect's state does not match"
                        + " this login (an old or forged redirect); start the login again");
            }
            if (!response.indicatesSuccess()) {
                AuthorizationErrorResponse error = response.toErrorResponse();
                String code = error.getErrorObject().getCode();
                // Nimbus drops the CR LF that separate Microsoft's reason from its trace ids: read the raw text
                String description = raw.getOrDefault("error_description", java.util.List.of()).stream().findFirst()
                        .orElse(error.getErrorObject().getDescription());
                throw new TokenException(TokenException.Reason.LOGIN_FAILED, "sign-in failed: " + code
                        + (description == null ? "" : ": " + TokenEndpointClient.firstLine(description)),
                        code, java.util.List.of(), null);
            }
            AuthorizationCode code = response.toSuccessResponse().getAuthorizationCode();
            TokenEndpointClient.Issued issued = service.client().token(provider,
                    new AuthorizationCodeGrant(code, redirectUri, verifier), redeemScope, principal);
            result.complete(service.finishLogin(provider, principal, issued));
        } catch (TokenException e) {
            fail(e);
        } catch (RuntimeException e) {
            fail(new TokenException(TokenException.Reason.LOGIN_FAILED, "sign-in failed: "
                    + e.getClass().getSimpleName(), null, java.util.List.of(), e));
        }
    }

    private void fail(TokenException e) {
        result.completeExceptionally(e);
    }

    @Override
    public void close() {
        if (listener != null) {
            // stop in another thread: stop() waits for exchanges, and this may run inside one
            Thread t = new Thread(() -> listener.stop(0), "mailproxy-login-listener-stop");
            t.setDaemon(true);
            t.start();
        }
    }

    @Override
    public String toString() {
        return "AuthorizationCodeLogin[" + provider.name() + ", " + principal + ", " + redirectUri + "]";
    }
}
