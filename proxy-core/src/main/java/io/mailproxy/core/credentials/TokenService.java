package io.mailproxy.core.credentials;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import com.nimbusds.oauth2.sdk.AuthorizationGrant;
import com.nimbusds.oauth2.sdk.ClientCredentialsGrant;
import com.nimbusds.oauth2.sdk.RefreshTokenGrant;
import com.nimbusds.oauth2.sdk.ResourceOwnerPasswordCredentialsGrant;
import com.nimbusds.oauth2.sdk.Scope;
import com.nimbusds.oauth2.sdk.auth.Secret;
import com.nimbusds.oauth2.sdk.token.RefreshToken;
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
import java.util.concurrent.Future;
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

    /** One lock per stored refresh token (by its secret name): redemptions of one token never overlap. */
    private final java.util.concurrent.ConcurrentMap<String, Object> refreshLocks =
            new java.util.concurrent.ConcurrentHashMap<>();
    private static final Logger LOG = LoggerFactory.getLogger(TokenService.class);
    /** Secret store entry names of refresh tokens: {@code oauth2-refresh:<provider>:<principal>}. */
    public static final String REFRESH_TOKEN_PREFIX = "oauth2-refresh:";
    static final String OFFLINE_ACCESS = "offline_access";

    private final SecretStore store;
    private final Executor executor;
    private final Scheduler scheduler;
    private final Clock clock;
    private final TokenEndpointClient client;
    private final Duration refreshAhead;
    private final Duration minRemaining;
    private final Duration keepAlive;
    private final Duration retryInitial;
    private final Duration retryMax;
    private final Duration demandRetry;
    private final Cache<TokenKey, Slot> slots;
    private final TokenMetrics metrics;
    private volatile boolean closed;

    private TokenService(Builder b) {
        this.store = b.store;
        this.executor = b.executor;
        this.scheduler = b.scheduler;
        this.clock = b.clock;
        this.metrics = new TokenMetrics(b.meters);
        this.client = new TokenEndpointClient(b.store, b.clock, b.connectTimeout, b.readTimeout, metrics);
        this.refreshAhead = b.refreshAhead;
        this.minRemaining = b.minRemaining;
        this.keepAlive = b.keepAlive;
        this.retryInitial = b.retryInitial;
        this.retryMax = b.retryMax;
        this.demandRetry = b.demandRetry;
        Duration idle = b.idleEviction;
        this.slots = Caffeine.newBuilder()
                .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
                .executor(Runnable::run)
                .expireAfter(new Expiry<TokenKey, Slot>() {
                    // refresh-token slots stay, so their keep-alive chain keeps the refresh token from expiring
                    private long idleNanos(TokenKey key) {
                        return key.grant() == AuthConfig.Grant.REFRESH_TOKEN ? Long.MAX_VALUE : idle.toNanos();
                    }

                    @Override
                    public long expireAfterCreate(TokenKey key, Slot value, long currentTime) {
                        return idleNanos(key);
                    }

                    @Override
                    public long expireAfterUpdate(TokenKey key, Slot value, long currentTime,
                                                  long currentDuration) {
                        return idleNanos(key);
                    }

                    @Override
                    public long expireAfterRead(TokenKey key, Slot value, long currentTime,
                                                long currentDuration) {
                        return idleNanos(key);
                    }
                })
                // atomically with the eviction, so a new slot of the same key (registering the same gauge, which
                // Micrometer then hands back) cannot come in between and lose its gauge to this removal
                .evictionListener((TokenKey key, Slot slot, RemovalCause cause) -> {
                    if (slot != null) {
                        metrics.remove(slot.expiryGauge);
                    }
                })
                .removalListener((TokenKey key, Slot slot, RemovalCause cause) -> {
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
        TokenKey key = key(provider, grant, principal, protocol);
        Slot slot = slots.get(key, Slot::new);
        slot.update(provider, password);
        return slot.get();
    }

    /** Drops the cached token (the upstream refused it); the next request fetches a new one. */
    public void invalidate(TokenKey key) {
        Slot slot = slots.getIfPresent(key);
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
        Slot slot = slots.policy().getIfPresentQuietly(key); // a scrape is no use: it must not delay idle eviction
        Optional<Instant> expires = slot == null ? Optional.empty() : slot.status().expiresAt();
        return expires.map(e -> Duration.between(clock.instant(), e).toMillis() / 1000.0).orElse(Double.NaN);
    }

    public Optional<TokenStatus> status(TokenKey key) {
        return Optional.ofNullable(slots.getIfPresent(key)).map(Slot::status);
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
        Set<String> all = new LinkedHashSet<>(SignedInUser.SCOPES);
        all.addAll(provider.delegatedScopesImap());
        all.addAll(provider.delegatedScopesPop3());
        all.addAll(provider.delegatedScopesSmtp());
        all.add(OFFLINE_ACCESS);
        return new Scope(all.toArray(new String[0]));
    }

    /**
     * Starts a device-code login (RFC 8628): the result carries the user code and verification URI to print, and
     * completes when the user has signed in (the refresh token is then stored for {@code principal}).
     */
    public CompletableFuture<DeviceCodeLogin> startDeviceCodeLogin(OAuth2ProviderConfig provider, String principal) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return DeviceCodeLogin.start(this, provider, principal, loginScope(provider));
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
        return AuthorizationCodeLogin.start(this, provider, principal, loginScope(provider), listen);
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

    /** One key's token, its single in-flight request, its timer and its failures. Guarded by {@code this}. */
    private final class Slot {
        private final TokenKey key;
        private OAuth2ProviderConfig provider;
        private Optional<SecretRef> password = Optional.empty();
        private AccessToken token;
        private Instant issuedAt;
        private CompletableFuture<AccessToken> inFlight;
        private Future<?> timer;
        private boolean usedSinceFetch;
        private int failures;
        private TokenException lastError;
        private Instant lastErrorAt;
        private Instant lastSuccessAt;
        private Instant nextRetryAt;
        private int generation;

        /** Seconds until this key's cached token expires; removed with the slot. */
        private final io.micrometer.core.instrument.Meter expiryGauge;

        Slot(TokenKey key) {
            this.key = key;
            // reads the cache, not this slot: a gauge registered again for a new slot of the same key stays right
            this.expiryGauge = metrics.expiry(key, TokenService.this, s -> s.secondsLeft(key));
        }

        synchronized void update(OAuth2ProviderConfig provider, Optional<SecretRef> password) {
            this.provider = provider;
            this.password = password;
        }

        CompletableFuture<AccessToken> get() {
            synchronized (this) {
                Instant now = clock.instant();
                usedSinceFetch = true;
                if (usable(now)) {
                    return CompletableFuture.completedFuture(token);
                }
                if (inFlight == null && lastError != null && lastError.transientFailure()
                        && nextRetryAt != null && now.isBefore(nextRetryAt)
                        && now.isBefore(lastErrorAt.plus(demandRetry))) {
                    // the endpoint was down a moment ago: do not queue every login behind another timeout (but do
                    // not make logins wait out a background backoff of many minutes either)
                    return CompletableFuture.failedFuture(lastError);
                }
                return start().thenApply(t -> t);
            }
        }

        private boolean usable(Instant now) {
            if (token == null) {
                return false;
            }
            Duration life = Duration.between(issuedAt, token.expiresAt());
            Duration margin = minRemaining.compareTo(life.dividedBy(5)) < 0 ? minRemaining : life.dividedBy(5);
            return now.isBefore(token.expiresAt().minus(margin));
        }

        /** Starts a request unless one is running; holds {@code this}. */
        private CompletableFuture<AccessToken> start() {
            if (inFlight != null) {
                return inFlight;
            }
            usedSinceFetch = false;
            cancelTimer();
            OAuth2ProviderConfig p = provider;
            Optional<SecretRef> pw = password;
            int gen = generation;
            CompletableFuture<AccessToken> f = new CompletableFuture<>();
            inFlight = f;
            try {
                executor.execute(() -> {
                    try {
                        TokenEndpointClient.Issued issued = fetch(p, pw);
                        succeeded(gen, issued);
                        f.complete(new AccessToken(issued.accessToken().getValue(), issued.expiresAt()));
                    } catch (TokenException e) {
                        failed(gen, e);
                        f.completeExceptionally(e);
                    } catch (RuntimeException e) {
                        TokenException te = new TokenException(TokenException.Reason.ENDPOINT_UNAVAILABLE,
                                "token request for " + key + " failed: " + e.getClass().getSimpleName(), null,
                                List.of(), null);
                        LOG.warn("token request for {} failed unexpectedly", key, e);
                        failed(gen, te);
                        f.completeExceptionally(te);
                    }
                });
            } catch (RuntimeException rejected) {
                inFlight = null;
                return CompletableFuture.failedFuture(new TokenException(TokenException.Reason.ENDPOINT_UNAVAILABLE,
                        "token service executor refused the request (shutting down?)"));
            }
            return f;
        }

        private synchronized void succeeded(int gen, TokenEndpointClient.Issued issued) {
            inFlight = null;
            Instant now = clock.instant();
            if (gen == generation) {
                token = new AccessToken(issued.accessToken().getValue(), issued.expiresAt());
                issuedAt = now;
            }
            if (lastError != null) {
                LOG.info("token for {} issued again after {} failure(s)", key, failures);
            }
            failures = 0;
            lastError = null;
            lastErrorAt = null;
            nextRetryAt = null;
            lastSuccessAt = now;
            Duration life = Duration.between(now, issued.expiresAt());
            Duration at80 = Duration.ofMillis(life.toMillis() * 8 / 10);
            Duration ahead = life.minus(refreshAhead);
            Duration delay = ahead.compareTo(at80) < 0 ? ahead : at80;
            if (delay.compareTo(life.dividedBy(2)) < 0) {
                delay = life.dividedBy(2);
            }
            schedule(delay);
        }

        private synchronized void failed(int gen, TokenException e) {
            inFlight = null;
            Instant now = clock.instant();
            failures++;
            boolean changed = lastError == null || !Objects.equals(lastError.getMessage(), e.getMessage());
            lastError = e;
            lastErrorAt = now;
            long factor = 1L << Math.min(failures - 1, 20);
            Duration backoff = retryInitial.multipliedBy(factor);
            if (backoff.compareTo(retryMax) > 0) {
                backoff = retryMax;
            }
            nextRetryAt = now.plus(backoff);
            // never touch the stored refresh token here: a person decides with ./mailproxy login
            if (changed) {
                LOG.warn("token for {} unavailable ({}): {}; retrying in {}s", key, e.reason(), e.getMessage(),
                        backoff.toSeconds());
            } else {
                LOG.debug("token for {} still unavailable (failure {}); retrying in {}s", key, failures,
                        backoff.toSeconds());
            }
            schedule(backoff);
        }

        private void schedule(Duration delay) {
            cancelTimer();
            if (closed) {
                return;
            }
            timer = scheduler.schedule(this::timerFired, delay);
        }

        /** Background refresh or retry; decides whether the key is still worth refreshing. */
        private synchronized void timerFired() {
            timer = null;
            if (closed || inFlight != null || provider == null) {
                return;
            }
            Instant now = clock.instant();
            boolean refreshToken = key.grant() == AuthConfig.Grant.REFRESH_TOKEN;
            if (usedSinceFetch || lastError != null) {
                // in use, or failing: a failure is retried with backoff until it clears (or the key is evicted)
                start().exceptionally(t -> null);
            } else if (refreshToken) {
                // nobody asked since the last refresh: redeem the refresh token once per keep-alive period only
                Instant due = (lastSuccessAt == null ? now : lastSuccessAt).plus(keepAlive);
                if (!now.isBefore(due)) {
                    LOG.debug("keep-alive refresh for {}", key);
                    start().exceptionally(t -> null);
                } else {
                    schedule(Duration.between(now, due));
                }
            }
            // an unused app-only or ROPC token simply expires; the next login fetches one
        }

        synchronized void cancelTimer() {
            if (timer != null) {
                timer.cancel(false);
                timer = null;
            }
        }

        synchronized void invalidate() {
            token = null;
            issuedAt = null;
            generation++;
        }

        synchronized void reset() {
            failures = 0;
            lastError = null;
            nextRetryAt = null;
            if (key.grant() == AuthConfig.Grant.REFRESH_TOKEN) {
                token = null;
                generation++;
            }
        }

        synchronized TokenStatus status() {
            return new TokenStatus(key, Optional.ofNullable(token).map(AccessToken::expiresAt),
                    Optional.ofNullable(lastSuccessAt), Optional.ofNullable(lastError).map(Throwable::getMessage),
                    Optional.ofNullable(lastErrorAt), Optional.ofNullable(nextRetryAt), failures);
        }

        private TokenEndpointClient.Issued fetch(OAuth2ProviderConfig p, Optional<SecretRef> pw) throws TokenException {
            Scope scope = key.scope().isEmpty() ? null : Scope.parse(key.scope());
            switch (key.grant()) {
                case CLIENT_CREDENTIALS -> {
                    return client.token(p, new ClientCredentialsGrant(), scope, "");
                }
                case PASSWORD -> {
                    SecretRef ref = pw.orElseThrow(() -> new TokenException(TokenException.Reason.CONFIGURATION,
                            "the password grant for " + key.principal() + " has no password configured"));
                    String secret = client.resolve(ref, "password of " + key.principal());
                    AuthorizationGrant grant = new ResourceOwnerPasswordCredentialsGrant(key.principal(), new Secret(secret));
                    return client.token(p, grant, scope, key.principal());
                }
                case REFRESH_TOKEN -> {
                    String name = refreshTokenName(p.name(), key.principal());
                    // One redemption at a time per stored refresh token, read again under the lock: the IMAP, POP3
                    // and SMTP scopes of one principal share it, and an identity provider that detects reuse of a
                    // rotated token would revoke the whole family if two were redeemed at once.
                    synchronized (refreshLocks.computeIfAbsent(name, n -> new Object())) {
                        return redeemStored(p, key, scope, name);
                    }
                }
                default -> throw new IllegalStateException(key.grant().toString());
            }
        }

        private TokenEndpointClient.Issued redeemStored(OAuth2ProviderConfig p, TokenKey key, Scope scope, String name)
                throws TokenException {
            String stored;
            try {
                stored = store.get(name).orElse(null);
            } catch (SecretStoreException e) {
                throw new TokenException(TokenException.Reason.SECRET_MISSING, e.getMessage(), null, List.of(), e);
            }
            if (stored == null) {
                throw new TokenException(TokenException.Reason.REFRESH_TOKEN_MISSING, "no refresh token stored"
                        + " for " + key.principal() + " at provider " + p.name() + " (secret '" + name + "')");
            }
            TokenEndpointClient.Issued issued = client.token(p, new RefreshTokenGrant(new RefreshToken(stored)),
                    scope, key.principal());
            rotate(name, stored, issued.refreshToken());
            return issued;
        }

        private void rotate(String name, String old, Optional<String> rotated) {
            if (rotated.isEmpty() || rotated.get().equals(old)) {
                return;
            }
            try {
                if (store instanceof FileSecretStore file) {
                    // compare-and-set: a login that stored a newer token meanwhile wins
                    if (!file.replace(name, old, rotated.get())) {
                        LOG.info("refresh token {} changed during a refresh (a login?); keeping the newer one", name);
                    }
                } else {
                    store.put(name, rotated.get());
                }
                LOG.debug("refresh token {} rotated", name);
            } catch (SecretStoreException e) {
                // the old token may already be invalid: say so loudly, but the access token is still good
                LOG.error("could not store the rotated refresh token {}: {}", name, e.getMessage());
            }
        }
    }
}
