package io.mailproxy.core.credentials;

import com.nimbusds.oauth2.sdk.ParseException;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.TokenErrorResponse;
import com.nimbusds.oauth2.sdk.TokenRequest;
import com.nimbusds.oauth2.sdk.TokenResponse;
import com.nimbusds.oauth2.sdk.auth.ClientAuthentication;
import com.nimbusds.oauth2.sdk.device.DeviceAuthorizationRequest;
import com.nimbusds.oauth2.sdk.device.DeviceAuthorizationResponse;
import com.nimbusds.oauth2.sdk.device.DeviceAuthorizationSuccessResponse;
import com.nimbusds.oauth2.sdk.device.DeviceCode;
import com.nimbusds.oauth2.sdk.device.DeviceCodeGrant;
import com.nimbusds.oauth2.sdk.http.HTTPResponse;
import com.nimbusds.oauth2.sdk.id.ClientID;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;

/**
 * A device-code login in progress (RFC 8628): show {@link #userCode()} and {@link #verificationUri()} (or
 * Microsoft's ready-made {@link #message()}) to the user; {@link #result()} completes once they signed in and the
 * refresh token is stored. Polls every {@code interval} seconds, five more after each {@code slow_down}, keeps going
 * on {@code authorization_pending}, and gives up at {@code expired_token} or when the code's lifetime has passed.
 */
public final class DeviceCodeLogin {
    private static final Duration SLOW_DOWN_STEP = Duration.ofSeconds(5);

    private final TokenService service;
    private final OAuth2ProviderConfig provider;
    private final String principal;
    private final Scope scope;
    private final DeviceCode deviceCode;
    private final String userCode;
    private final URI verificationUri;
    private final Optional<URI> verificationUriComplete;
    private final Optional<String> message;
    private final Instant expiresAt;
    private final CompletableFuture<LoginResult> result = new CompletableFuture<>();
    private Duration interval;
    private Future<?> timer;
    private int polls;

    private DeviceCodeLogin(TokenService service, OAuth2ProviderConfig provider, String principal, Scope scope,
                            DeviceAuthorizationSuccessResponse response) {
        this.service = service;
        this.provider = provider;
        this.principal = principal;
        this.scope = scope;
        this.deviceCode = response.getDeviceCode();
        this.userCode = response.getUserCode().getValue();
        this.verificationUri = response.getVerificationURI();
        this.verificationUriComplete = Optional.ofNullable(response.getVerificationURIComplete());
        Object msg = response.getCustomParameters().get("message");
        this.message = Optional.ofNullable(msg).map(String::valueOf);
        this.expiresAt = service.clock().instant().plusSeconds(response.getLifetime() > 0 ? response.getLifetime() : 900);
        this.interval = Duration.ofSeconds(response.getInterval() > 0 ? response.getInterval() : 5);
    }

    static DeviceCodeLogin start(TokenService service, OAuth2ProviderConfig provider, String principal, Scope scope)
            throws TokenException {
        if (provider.deviceAuthorizationEndpoint() == null) {
            throw new TokenException(TokenException.Reason.CONFIGURATION, "provider " + provider.name()
                    + " has no device authorization endpoint");
        }
        ClientAuthentication auth = service.client().clientAuthentication(provider);
        DeviceAuthorizationRequest request = auth != null
                ? new DeviceAuthorizationRequest(provider.deviceAuthorizationEndpoint(), auth, scope, null)
                : new DeviceAuthorizationRequest(provider.deviceAuthorizationEndpoint(), new ClientID(provider.clientId()), scope);
        HTTPResponse http = service.client().send(request.toHTTPRequest(), provider.deviceAuthorizationEndpoint());
        DeviceAuthorizationResponse response;
        try {
            response = DeviceAuthorizationResponse.parse(http);
        } catch (ParseException e) {
            throw TokenEndpointClient.unparsable(provider.deviceAuthorizationEndpoint(), http);
        }
        if (!response.indicatesSuccess()) {
            throw TokenEndpointClient.rejected(provider, "device authorization", principal, http,
                    response.toErrorResponse().getErrorObject());
        }
        DeviceCodeLogin login = new DeviceCodeLogin(service, provider, principal, scope, response.toSuccessResponse());
        login.schedule();
        return login;
    }

    public String userCode() {
        return userCode;
    }

    public URI verificationUri() {
        return verificationUri;
    }

    public Optional<URI> verificationUriComplete() {
        return verificationUriComplete;
    }

    /** The provider's own instruction ("To sign in, use a web browser to open the page ..."), if it sent one. */
    public Optional<String> message() {
        return message;
    }

    public Instant expiresAt() {
        return expiresAt;
    }

    /** The current polling interval (grows by 5 s after each {@code slow_down}). */
    public synchronized Duration interval() {
        return interval;
    }

    /** Completes when the refresh token is stored; fails with {@link TokenException}. */
    public CompletableFuture<LoginResult> result() {
        return result;
    }

    public synchronized void cancel() {
        if (timer != null) {
            timer.cancel(false);
        }
        result.completeExceptionally(new TokenException(TokenException.Reason.LOGIN_FAILED, "login cancelled"));
    }

    private synchronized void schedule() {
        if (!result.isDone()) {
            timer = service.scheduler().schedule(() -> service.executor().execute(this::poll), interval);
        }
    }

    private void poll() {
        if (result.isDone()) {
            return;
        }
        if (!service.clock().instant().isBefore(expiresAt)) {
            result.completeExceptionally(new TokenException(TokenException.Reason.LOGIN_FAILED, "the device code"
                    + " expired before the sign-in was completed; run the login again"));
            return;
        }
        synchronized (this) {
            polls++;
        }
        try {
            ClientAuthentication auth = service.client().clientAuthentication(provider);
            DeviceCodeGrant grant = new DeviceCodeGrant(deviceCode);
            TokenRequest request = auth != null
                    ? new TokenRequest(provider.tokenEndpoint(), auth, grant, null)
                    : new TokenRequest(provider.tokenEndpoint(), new ClientID(provider.clientId()), grant, null);
            HTTPResponse http = service.client().send(request.toHTTPRequest(), provider.tokenEndpoint());
            TokenResponse response;
            try {
                response = TokenResponse.parse(http);
            } catch (ParseException e) {
                throw TokenEndpointClient.unparsable(provider.tokenEndpoint(), http);
            }
            if (response.indicatesSuccess()) {
                var success = response.toSuccessResponse();
                var tokens = success.getTokens();
                var at = tokens.getAccessToken();
                var issued = new TokenEndpointClient.Issued(at,
                        service.clock().instant().plusSeconds(at.getLifetime() > 0 ? at.getLifetime() : 3600),
                        Optional.ofNullable(tokens.getRefreshToken()).map(r -> r.getValue()),
                        at.getScope() != null ? at.getScope().toString() : scope.toString(),
                        TokenEndpointClient.Issued.idToken(success));
                result.complete(service.finishLogin(provider, principal, issued));
                return;
            }
            TokenErrorResponse error = response.toErrorResponse();
            String code = error.getErrorObject() == null ? "" : String.valueOf(error.getErrorObject().getCode());
            switch (code) {
                case "authorization_pending" -> schedule();
                case "slow_down" -> {
                    synchronized (this) {
                        interval = interval.plus(SLOW_DOWN_STEP);
                    }
                    schedule();
                }
                case "expired_token" -> result.completeExceptionally(new TokenException(
                        TokenException.Reason.LOGIN_FAILED, "the device code expired before the sign-in was"
                        + " completed; run the login again", code, List.of(), null));
                default -> result.completeExceptionally(TokenEndpointClient.rejected(provider, "device_code",
                        principal, http, error.getErrorObject()));
            }
        } catch (TokenException e) {
            if (e.transientFailure()) {
                schedule(); // the endpoint blinked: keep polling until the code expires
            } else {
                result.completeExceptionally(e);
            }
        } catch (RuntimeException e) {
            result.completeExceptionally(e);
        }
    }

    /** How many times the token endpoint was polled (for tests and progress output). */
    public synchronized int polls() {
        return polls;
    }

    @Override
    public String toString() {
        return "DeviceCodeLogin[" + provider.name() + ", " + principal + ", code " + userCode + "]";
    }
}
