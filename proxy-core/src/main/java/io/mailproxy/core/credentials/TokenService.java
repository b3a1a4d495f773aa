package io.mailproxy.core.credentials;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.nimbusds.oauth2.sdk.Scope;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * OAuth 2.0 access tokens for upstream logins, on the Nimbus OAuth 2.0 SDK: client credentials (secret or
 * certificate), refresh token (with rotation into the secret store) and ROPC, plus the interactive logins behind
 * {@code ./mailproxy login} ({@link #startDeviceCodeLogin device code}, {@link #startAuthorizationCodeLogin
 * authorization code with PKCE}).
 *
 * <p>Tokens are cached per {@link TokenKey} (provider, grant, scope, principal) and refreshed in the background
 * before they expire (at 80% of their life, or {@code refreshAhead} before expiry if that is earlier). However many
 * callers wait, one request per key is in flight. A failed refresh keeps any still-valid token, is retried with
 * exponential backoff, and never deletes a stored refresh token. Refresh tokens nobody uses are still redeemed at
 * least every {@code keepAlive} so they do not expire from inactivity (AADSTS700082). HTTP runs on the injected
 * executor, never on the caller's thread; time and timers come from the injected clock and scheduler.
 */
public final class TokenService implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TokenService.class);
    /** Secret store entry names of refresh tokens: {@code oauth2-refresh:<provider>:<principal>}. */
    public static final String REFRESH_TOKEN_PREFIX = "oauth2-refresh:";
    static final String OFFLINE_ACCESS = "offline_access";

    private final SecretStore store;
    private final Executor executor;
    private final Scheduler scheduler;
    private final Clock clock;
    private final TokenEndpointClient client;
    private final TokenGrants grants;
    private final TokenSlot.Timing timing;
    private final Cache<TokenKey, TokenSlot> slots;
    private final TokenMetrics metrics;
    private volatile boolean closed;

    private TokenService(Builder b) {
        this.store = b.store;
        this.executor = b.executor;
        this.scheduler = b.scheduler;
        this.clock = b.clock;
        this.metrics = new TokenMetrics(b.meters);
        this.client = new TokenEndpointClient(b.store, b.clock, b.connectTimeout, b.readTimeout, metrics);
        this.grants = new TokenGrants(b.store, client);
        this.timing = new TokenSlot.Timing(b.refreshAhead, b.minRemaining, b.keepAlive, b.retryInitial, b.retryMax,
                b.demandRetry);
        Duration idle = b.idleEviction;
        this.slots = Caffeine.newBuilder()
                .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
                .executor(Runnable::run)
                .expireAfter(new Expiry<TokenKey, TokenSlot>() {
                    // refresh-token slots stay, so their keep-alive chain keeps the refresh token from expiring
                    private long idleNanos(TokenKey key) {
                        return key.grant() == AuthConfig.Grant.REFRESH_TOKEN ? Long.MAX_VALUE : idle.toNanos();
                    }

                    @Override
                    public long expireAfterCreate(TokenKey key, TokenSlot value, long currentTime) {
                        return idleNanos(key);
                    }

                    @Override
                    public long expireAfterUpdate(TokenKey key, TokenSlot value, long currentTime,
                                                  long currentDuration) {
                        return idleNanos(key);
                    }

                    @Override
                    public long expireAfterRead(TokenKey key, TokenSlot value, long currentTime,
                                                long currentDuration) {
                        return idleNanos(key);
                    }
                })
                // atomically with the eviction, so a new slot of the same key (registering the same gauge, which
                // Micrometer then hands back) cannot come in between and lose its gauge to this removal
                .evictionListener((TokenKey key, TokenSlot slot, RemovalCause cause) -> {
                    if (slot != null) {
                        metrics.remove(slot.expiryGauge);
                    }
                })
                .removalListener((TokenKey key, TokenSlot slot, RemovalCause cause) -> {
                    if (slot != null) {
                        slot.cancelTimer();
                    }
                })
                .build();
    }

    public static Builder builder(SecretStore store) {
        return new Builder(store);
    }

    /** Settings and injected time, timers and executor. Defaults suit Office 365's 60-90 minute tokens. */
    public static final class Builder {
        private final SecretStore store;
        private Executor executor;
        private Scheduler scheduler;
        private Clock clock = Clock.systemUTC();
        private Duration connectTimeout = Duration.ofSeconds(10);
        private Duration readTimeout = Duration.ofSeconds(30);
        private Duration refreshAhead = Duration.ofMinutes(15);
        private Duration minRemaining = Duration.ofMinutes(10);
        private Duration keepAlive = Duration.ofHours(24);
        private Duration retryInitial = Duration.ofSeconds(5);
        private Duration retryMax = Duration.ofMinutes(10);
        private Duration demandRetry = Duration.ofSeconds(30);
        private Duration idleEviction = Duration.ofHours(24);
        private io.micrometer.core.instrument.MeterRegistry meters;

        private Builder(SecretStore store) {
            this.store = Objects.requireNonNull(store, "store");
        }

        /** Where the blocking HTTP calls run (required; never an event loop). */
        public Builder executor(Executor executor) {
            this.executor = executor;
            return this;
        }

        /** Background refreshes, retries and device-code polls (required). */
        public Builder scheduler(Scheduler scheduler) {
            this.scheduler = scheduler;
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = clock;
            return this;
        }

        public Builder timeouts(Duration connect, Duration read) {
            this.connectTimeout = connect;
            this.readTimeout = read;
            return this;
        }

        /** Refresh this long before expiry, or at 80% of the token's life if that is earlier (default 15 min). */
        public Builder refreshAhead(Duration refreshAhead) {
            this.refreshAhead = refreshAhead;
            return this;
        }

        /** A cached token with less life left is not handed out (default 10 min, capped at 20% of its life). */
        public Builder minRemaining(Duration minRemaining) {
            this.minRemaining = minRemaining;
            return this;
        }

        /** An unused refresh token is still redeemed this often (default 24 h). */
        public Builder keepAlive(Duration keepAlive) {
            this.keepAlive = keepAlive;
            return this;
        }

        /** Backoff of failed refreshes: first delay, doubling up to the maximum (defaults 5 s, 10 min). */
        public Builder retryBackoff(Duration initial, Duration max) {
            this.retryInitial = initial;
            this.retryMax = max;
            return this;
        }

        /** Where the token request counter and the token expiry gauges go (none without this call). */
        public Builder meters(io.micrometer.core.instrument.MeterRegistry meters) {
            this.meters = Objects.requireNonNull(meters);
            return this;
        }

        /**
         * While logins ask for a token that failed for a transient reason, a new request goes out at most this often
         * (default 30 s), however far the background backoff has grown: the daemon serves again within this long of
         * the endpoint coming back, and a login storm still costs the endpoint one request per key per interval.
         */
        public Builder demandRetry(Duration demandRetry) {
            this.demandRetry = demandRetry;
            return this;
        }

        public TokenService build() {
            Objects.requireNonNull(executor, "executor");
            Objects.requireNonNull(scheduler, "scheduler");
            return new TokenService(this);
        }
    }

    /** The secret store entry that holds the refresh token of {@code principal} at {@code provider}. */
    public static String refreshTokenName(String provider, String principal) {
        return REFRESH_TOKEN_PREFIX + provider + ":" + principal;
    }

    /** The scope a grant asks for: app-only {@code appScopes}, or the protocol's delegated scopes. */
    public static List<String> scopes(OAuth2ProviderConfig provider, AuthConfig.Grant grant, Protocol protocol) {
        if (grant == AuthConfig.Grant.CLIENT_CREDENTIALS) {
            return provider.appScopes();
        }
        return switch (protocol) {
            case IMAP -> provider.delegatedScopesImap();
            case POP3 -> provider.delegatedScopesPop3();
            case SMTP -> provider.delegatedScopesSmtp();
        };
    }

    /** The cache key of a request; {@code principal} is ignored (empty) for client credentials. */
    public static TokenKey key(OAuth2ProviderConfig provider, AuthConfig.Grant grant, String principal,
                               Protocol protocol) {
        return new TokenKey(provider.name(), grant, String.join(" ", scopes(provider, grant, protocol)),
                grant == AuthConfig.Grant.CLIENT_CREDENTIALS ? "" : principal);
    }

    /**
     * An access token for {@code principal} (the delegate whose refresh token is used, or the ROPC user name;
     * ignored for client credentials) to use with {@code protocol}. Completes off the caller's thread; fails with
     * {@link TokenException}. {@code password} is the ROPC password ({@link AuthConfig.Grant#PASSWORD} only).
     */
    public CompletableFuture<AccessToken> token(OAuth2ProviderConfig provider, AuthConfig.Grant grant,
                                                String principal, Protocol protocol, Optional<SecretRef> password) {
        if (closed) {
            return CompletableFuture.failedFuture(new TokenException(TokenException.Reason.ENDPOINT_UNAVAILABLE,
                    "token service is shut down"));
        }
        return token(provider, key(provider, grant, principal, protocol), password);
    }

    /**
     * As {@link #token(OAuth2ProviderConfig, AuthConfig.Grant, String, Protocol, Optional)} for an audience other than
     * the mail protocols' (Microsoft Graph: {@link GraphScopes}), with the scopes given; cached under its own key.
     */
    public CompletableFuture<AccessToken> token(OAuth2ProviderConfig provider, AuthConfig.Grant grant,
                                                String principal, List<String> scopes, Optional<SecretRef> password) {
        if (closed) {
            return CompletableFuture.failedFuture(new TokenException(TokenException.Reason.ENDPOINT_UNAVAILABLE,
                    "token service is shut down"));
        }
        return token(provider, key(provider.name(), grant, principal, scopes), password);
    }

    /** The cache key of a request for explicit scopes; {@code principal} is ignored (empty) for client credentials. */
    public static TokenKey key(String provider, AuthConfig.Grant grant, String principal, List<String> scopes) {
        return new TokenKey(provider, grant, String.join(" ", scopes),
                grant == AuthConfig.Grant.CLIENT_CREDENTIALS ? "" : principal);
    }

    private CompletableFuture<AccessToken> token(OAuth2ProviderConfig provider, TokenKey key,
                                                 Optional<SecretRef> password) {
        TokenSlot slot = slots.get(key, this::newSlot);
        slot.update(provider, password);
        return slot.get();
    }

    private TokenSlot newSlot(TokenKey key) {
        // the gauge reads the cache, not the slot: registered again for a new slot of the same key, it stays right
        return new TokenSlot(key, timing, grants, executor, scheduler, clock, () -> closed,
                metrics.expiry(key, this, s -> s.secondsLeft(key)));
    }

    /** Drops the cached token (the upstream refused it); the next request fetches a new one. */
    public void invalidate(TokenKey key) {
        TokenSlot slot = slots.getIfPresent(key);
        if (slot != null) {
            slot.invalidate();
        }
    }

    /** The state of every cached key, for {@code /health}, {@code /status} and {@code check}. */
    public Map<TokenKey, TokenStatus> status() {
        Map<TokenKey, TokenStatus> out = new LinkedHashMap<>();
        slots.asMap().forEach((k, slot) -> out.put(k, slot.status()));
        return out;
    }

    /** Seconds until the cached token of {@code key} expires; NaN when none is cached. */
    private double secondsLeft(TokenKey key) {
        TokenSlot slot = slots.policy().getIfPresentQuietly(key); // a scrape is no use: it must not delay idle eviction
        Optional<Instant> expires = slot == null ? Optional.empty() : slot.status().expiresAt();
        return expires.map(e -> Duration.between(clock.instant(), e).toMillis() / 1000.0).orElse(Double.NaN);
    }

    public Optional<TokenStatus> status(TokenKey key) {
        return Optional.ofNullable(slots.getIfPresent(key)).map(TokenSlot::status);
    }

    /** Whether a refresh token is stored for {@code principal} at {@code provider}. */
    public boolean hasRefreshToken(String provider, String principal) {
        return store.get(refreshTokenName(provider, principal)).isPresent();
    }

    /**
     * Stores a refresh token obtained elsewhere and forgets the keys' past failures, so the next request uses it at
     * once (the same happens after an interactive login).
     */
    public void storeRefreshToken(String provider, String principal, String refreshToken) {
        store.put(refreshTokenName(provider, principal), refreshToken);
        loginCompleted(provider, principal);
    }

    private void loginCompleted(String provider, String principal) {
        slots.asMap().forEach((k, slot) -> {
            if (k.provider().equals(provider) && k.principal().equals(principal)) {
                slot.reset();
            }
        });
    }

    // ---------------------------------------------------------------------------------------- interactive logins

    /**
     * Every delegated scope of the provider plus {@code offline_access}, for a consent that serves all protocols, and
     * {@code openid profile email} for an ID token that says who signed in ({@link SignedInUser}).
     */
    static Scope loginScope(OAuth2ProviderConfig provider) {
        return loginScope(LoginConsent.mailProtocols(provider), true);
    }

    /**
     * The scope of a login's authorize or device code request ({@code all}: the resource redeemed for first, then
     * the ones for consent only), or of its code redemption (one resource: {@link LoginConsent}).
     */
    static Scope loginScope(LoginConsent consent, boolean all) {
        Set<String> scopes = new LinkedHashSet<>(SignedInUser.SCOPES);
        scopes.addAll(consent.redeem());
        if (all) {
            scopes.addAll(consent.consentOnly());
        }
        scopes.add(OFFLINE_ACCESS);
        return new Scope(scopes.toArray(new String[0]));
    }

    /**
     * Starts a device-code login (RFC 8628): the result carries the user code and verification URI to print, and
     * completes when the user has signed in (the refresh token is then stored for {@code principal}).
     */
    public CompletableFuture<DeviceCodeLogin> startDeviceCodeLogin(OAuth2ProviderConfig provider, String principal) {
        return startDeviceCodeLogin(provider, principal, LoginConsent.mailProtocols(provider));
    }

    /** As {@link #startDeviceCodeLogin(OAuth2ProviderConfig, String)}, asking consent for {@code consent}. */
    public CompletableFuture<DeviceCodeLogin> startDeviceCodeLogin(OAuth2ProviderConfig provider, String principal,
                                                                   LoginConsent consent) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                // the poll carries no scope: the token is for the first resource named, the redeemed one
                return DeviceCodeLogin.start(this, provider, principal, loginScope(consent, true));
            } catch (TokenException e) {
                throw new CompletionException(e);
            }
        }, executor);
    }

    /**
     * Starts an authorization-code login with PKCE (S256). With {@code listen}, a loopback HTTP listener on the
     * redirect URI (default {@code http://localhost:0/}, a free port) catches the redirect; otherwise the user pastes
     * the URL the browser was redirected to into {@link AuthorizationCodeLogin#complete(String)}.
     */
    public AuthorizationCodeLogin startAuthorizationCodeLogin(OAuth2ProviderConfig provider, String principal,
                                                              boolean listen) throws TokenException {
        return startAuthorizationCodeLogin(provider, principal, listen, LoginConsent.mailProtocols(provider));
    }

    /**
     * As {@link #startAuthorizationCodeLogin(OAuth2ProviderConfig, String, boolean)}: the authorize request asks
     * consent for all of {@code consent}, the code is redeemed for its one {@code redeem} resource.
     */
    public AuthorizationCodeLogin startAuthorizationCodeLogin(OAuth2ProviderConfig provider, String principal,
                                                              boolean listen, LoginConsent consent)
            throws TokenException {
        return AuthorizationCodeLogin.start(this, provider, principal, loginScope(consent, true),
                loginScope(consent, false), listen);
    }

    /** Stores the refresh token an interactive login returned; called by the login flows. */
    LoginResult finishLogin(OAuth2ProviderConfig provider, String principal, TokenEndpointClient.Issued issued)
            throws TokenException {
        String rt = issued.refreshToken().orElseThrow(() -> new TokenException(TokenException.Reason.LOGIN_FAILED,
                "provider " + provider.name() + " returned no refresh token: add " + OFFLINE_ACCESS
                        + " to the delegated scopes"));
        SignedInUser.check(provider, principal, issued.idToken());
        String name = refreshTokenName(provider.name(), principal);
        store.put(name, rt);
        loginCompleted(provider.name(), principal);
        LOG.info("login of {} at provider {} complete; refresh token stored as {}", principal, provider.name(), name);
        return new LoginResult(provider.name(), principal, name, issued.scope(), issued.expiresAt());
    }

    TokenEndpointClient client() {
        return client;
    }

    Executor executor() {
        return executor;
    }

    Scheduler scheduler() {
        return scheduler;
    }

    Clock clock() {
        return clock;
    }

    @Override
    public void close() {
        closed = true;
        slots.asMap().values().forEach(slot -> {
            slot.cancelTimer();
            metrics.remove(slot.expiryGauge); // an explicit removal is no eviction: its listener does not run
        });
        slots.invalidateAll();
    }

    // ------------------------------------------------------------------------------------------ per-key state
}
