package io.mailproxy.testkit;

import static io.mailproxy.testkit.IdpHttp.error;
import static io.mailproxy.testkit.IdpHttp.form;
import static io.mailproxy.testkit.IdpHttp.json;
import static io.mailproxy.testkit.IdpHttp.send;

import com.sun.net.httpserver.HttpExchange;
import io.mailproxy.testkit.IdpState.Client;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/** The device authorization grant (RFC 8628) as Entra ID runs it, and the user's side of it. */
final class DeviceCodeFlow {

    static final class DeviceAuthorization {
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

    private final IdpState state;
    private final TokenIssuer issuer;
    private final Map<String, DeviceAuthorization> deviceCodes = new ConcurrentHashMap<>();

    DeviceCodeFlow(IdpState state, TokenIssuer issuer) {
        this.state = state;
        this.issuer = issuer;
    }

    /** {@code /devicecode}: a device code and the user code to enter at the verification page. */
    void start(HttpExchange exchange) throws IOException {
        Map<String, String> form = form(exchange);
        String clientId = form.get("client_id");
        if (clientId == null || !state.clients.containsKey(clientId)) {
            error(state, exchange, 400, "unauthorized_client", 700016, "Application with identifier '" + clientId
                    + "' was not found in the directory.");
            return;
        }
        String deviceCode = "DAQABAAEAAA" + state.opaque();
        String userCode = state.userCode();
        Instant now = state.now();
        DeviceAuthorization d = new DeviceAuthorization(clientId, userCode, form.getOrDefault("scope", ""),
                now.plusSeconds(state.deviceCodeLifetimeSeconds), state.deviceCodeIntervalSeconds);
        deviceCodes.put(deviceCode, d);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("user_code", userCode);
        body.put("device_code", deviceCode);
        body.put("verification_uri", "https://microsoft.com/devicelogin");
        body.put("expires_in", state.deviceCodeLifetimeSeconds);
        body.put("interval", state.deviceCodeIntervalSeconds);
        body.put("message", "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and"
                + " enter the code " + userCode + " to authenticate.");
        send(exchange, 200, "application/json; charset=utf-8", json(body));
    }

    /** The device code grant: pending, slow down, declined, expired, or the tokens once the user approved. */
    void grant(HttpExchange exchange, Client client, Map<String, String> form) throws IOException {
        DeviceAuthorization d = deviceCodes.get(form.getOrDefault("device_code", ""));
        if (d == null || !d.clientId.equals(client.id())) {
            error(state, exchange, 400, "invalid_grant", 70000,
                    "The provided value for the 'device_code' is not valid.");
            return;
        }
        Instant now = state.now();
        synchronized (d) {
            if (!now.isBefore(d.expiresAt)) {
                error(state, exchange, 400, "expired_token", 70020, "The provided value for the input parameter"
                        + " 'device_code' is not valid. This device code has expired.");
                return;
            }
            if (d.declined) {
                error(state, exchange, 400, "authorization_declined", 70000,
                        "The user declined the authorization request.");
                return;
            }
            if (d.approvedUser == null) {
                Instant last = d.lastPoll;
                d.lastPoll = now;
                if (last != null && now.isBefore(last.plusSeconds(d.intervalSeconds))) {
                    d.intervalSeconds += 5;
                    error(state, exchange, 400, "slow_down", 70016, "OAuth 2.0 device flow error. Polling too fast:"
                            + " wait the interval between requests.");
                    return;
                }
                error(state, exchange, 400, "authorization_pending", 70016,
                        "OAuth 2.0 device flow error. Authorization is"
                        + " pending. Continue polling.");
                return;
            }
        }
        deviceCodes.remove(form.get("device_code"));
        // consent covers every resource the device code request named; the poll carries no scope, and the token is
        // for the first resource (observed, Microsoft Q&A 924265: with a Graph and a Teams scope, "it is included in
        // the response scope but nothing more" for whichever came first)
        issuer.consent(client.id(), d.approvedUser, d.scope);
        issuer.issue(exchange, client.id(), d.approvedUser, TokenIssuer.firstResourceOnly(d.scope), false);
    }

    /** The user code of the newest device authorization. */
    Optional<String> lastUserCode() {
        return deviceCodes.values().stream().max((a, b) -> a.expiresAt.compareTo(b.expiresAt)).map(d -> d.userCode);
    }

    /** {@code user} entered the code at the verification page and consented. */
    void approve(String userCode, String user) {
        device(userCode).approvedUser = user;
    }

    void decline(String userCode) {
        device(userCode).declined = true;
    }

    private DeviceAuthorization device(String userCode) {
        return deviceCodes.values().stream().filter(d -> d.userCode.equals(userCode)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no device authorization with user code " + userCode));
    }
}
