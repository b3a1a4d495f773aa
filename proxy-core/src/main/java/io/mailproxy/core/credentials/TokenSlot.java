package io.mailproxy.core.credentials;

import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import io.micrometer.core.instrument.Meter;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One key's access token for the {@link TokenService}: its single in-flight request, its background refresh timer
 * (at 80% of the token's life, or {@code refreshAhead} before expiry; keep-alive redemptions of an unused refresh
 * token), and its failures with their backoff. Guarded by {@code this}.
 */
final class TokenSlot {
    // the service's logger: an administrator reads these lines as the token service's
    private static final Logger LOG = LoggerFactory.getLogger(TokenService.class);

    /** The service's timing settings (see {@link TokenService.Builder}). */
    record Timing(Duration refreshAhead, Duration minRemaining, Duration keepAlive, Duration retryInitial,
                  Duration retryMax, Duration demandRetry) { }

    private final Timing timing;
    private final TokenGrants grants;
    private final Executor executor;
    private final Scheduler scheduler;
    private final Clock clock;
    private final BooleanSupplier closed;
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
    final Meter expiryGauge;

    /** @param closed whether the service is shut down (no timer is started then) */
    TokenSlot(TokenKey key, Timing timing, TokenGrants grants, Executor executor, Scheduler scheduler, Clock clock,
              BooleanSupplier closed, Meter expiryGauge) {
        this.key = key;
        this.timing = timing;
        this.grants = grants;
        this.executor = executor;
        this.scheduler = scheduler;
        this.clock = clock;
        this.closed = closed;
        this.expiryGauge = expiryGauge;
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
                    && now.isBefore(lastErrorAt.plus(timing.demandRetry()))) {
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
        Duration fifth = life.dividedBy(5);
        Duration margin = timing.minRemaining().compareTo(fifth) < 0 ? timing.minRemaining() : fifth;
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
                    TokenEndpointClient.Issued issued = grants.fetch(key, p, pw);
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
        Duration ahead = life.minus(timing.refreshAhead());
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
        Duration backoff = timing.retryInitial().multipliedBy(factor);
        if (backoff.compareTo(timing.retryMax()) > 0) {
            backoff = timing.retryMax();
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
        if (closed.getAsBoolean()) {
            return;
        }
        timer = scheduler.schedule(this::timerFired, delay);
    }

    /** Background refresh or retry; decides whether the key is still worth refreshing. */
    private synchronized void timerFired() {
        timer = null;
        if (closed.getAsBoolean() || inFlight != null || provider == null) {
            return;
        }
        Instant now = clock.instant();
        boolean refreshToken = key.grant() == AuthConfig.Grant.REFRESH_TOKEN;
        if (usedSinceFetch || lastError != null) {
            // in use, or failing: a failure is retried with backoff until it clears (or the key is evicted)
            start().exceptionally(t -> null);
        } else if (refreshToken) {
            // nobody asked since the last refresh: redeem the refresh token once per keep-alive period only
            Instant due = (lastSuccessAt == null ? now : lastSuccessAt).plus(timing.keepAlive());
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
}
