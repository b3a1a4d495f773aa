package io.mailproxy.core.credentials;

import java.time.Instant;
import java.util.Optional;

/**
 * One cached token's state, for {@code /health}, {@code /status} and {@code check}. Never holds the token.
 *
 * @param expiresAt     when the cached access token expires, if there is one
 * @param lastSuccessAt when the token endpoint last issued a token for this key
 * @param lastError     the last failure's message (with the provider's AADSTS text), cleared by a success
 * @param lastErrorAt   when that failure happened
 * @param nextRetryAt   when a failed refresh is retried in the background
 * @param failures      consecutive failures since the last success
 */
public record TokenStatus(
        TokenKey key,
        Optional<Instant> expiresAt,
        Optional<Instant> lastSuccessAt,
        Optional<String> lastError,
        Optional<Instant> lastErrorAt,
        Optional<Instant> nextRetryAt,
        int failures) {

    /** A usable token is cached and the last attempt did not fail. */
    public boolean ok(Instant now) {
        return lastError.isEmpty() && expiresAt.map(now::isBefore).orElse(false);
    }
}
