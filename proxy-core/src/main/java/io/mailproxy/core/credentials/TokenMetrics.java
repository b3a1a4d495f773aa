package io.mailproxy.core.credentials;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Set;
import java.util.function.ToDoubleFunction;

/**
 * The token service's meters. {@code mailproxy.oauth2.token.requests} counts every request that reached for a token
 * endpoint, tagged {@code provider}, {@code grant} and {@code outcome}: {@code ok}; the provider's OAuth error code
 * ({@code invalid_grant}, {@code invalid_client}, ... from a known set, else {@code rejected}); {@code http_error}
 * (5xx, 429, or a body that is not a token response); {@code unreachable} (connect or read failed). A missing secret
 * or refresh token sends no request and is not counted. {@code mailproxy.oauth2.token.expires} is the seconds until
 * each cached token expires, tagged with its key (provider, grant, principal, scope). No tag ever holds a token,
 * secret or password: only configuration names and the mailbox a token is for.
 */
final class TokenMetrics {

    static final String REQUESTS = "mailproxy.oauth2.token.requests";
    static final String EXPIRES = "mailproxy.oauth2.token.expires";
    static final String OK = "ok";
    static final String HTTP_ERROR = "http_error";
    static final String UNREACHABLE = "unreachable";
    static final String REJECTED = "rejected";

    /** OAuth error codes (RFC 6749 5.2, OpenID Connect) kept as outcomes; any other becomes {@link #REJECTED}. */
    private static final Set<String> KNOWN_ERRORS = Set.of("invalid_request", "invalid_client", "invalid_grant",
            "unauthorized_client", "unsupported_grant_type", "invalid_scope", "interaction_required",
            "consent_required", "temporarily_unavailable", "server_error");

    /** No meters: the token service was built without a registry. */
    static final TokenMetrics NONE = new TokenMetrics(null);

    private final MeterRegistry registry;

    TokenMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** @param grant the grant type as OAuth spells it ({@code refresh_token}); tagged as the config does */
    void request(String provider, String grant, String outcome) {
        if (registry == null) {
            return;
        }
        Counter.builder(REQUESTS).description("OAuth 2.0 token endpoint requests, by outcome")
                .tag("provider", provider)
                .tag("grant", grant.replace('_', '-'))
                .tag("outcome", outcome)
                .register(registry)
                .increment();
    }

    /** The outcome of a refusal with OAuth error {@code code} (null when there was none). */
    static String rejected(String code) {
        return code != null && KNOWN_ERRORS.contains(code) ? code : REJECTED;
    }

    /** Registers the expiry gauge of {@code key}; null without a registry. */
    <T> Meter expiry(TokenKey key, T source, ToDoubleFunction<T> secondsLeft) {
        if (registry == null) {
            return null;
        }
        return Gauge.builder(EXPIRES, source, secondsLeft)
                .description("seconds until the cached access token expires (NaN: none cached)")
                .baseUnit("seconds")
                .tag("provider", key.provider())
                .tag("grant", key.grant().name().toLowerCase(java.util.Locale.ROOT).replace('_', '-'))
                .tag("principal", key.principal())
                .tag("scope", key.scope())
                .strongReference(true)
                .register(registry);
    }

    void remove(Meter meter) {
        if (registry != null && meter != null) {
            registry.remove(meter);
        }
    }
}
