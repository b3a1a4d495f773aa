package io.mailproxy.core.credentials;

import java.time.Instant;

/** An opaque access token (never parsed) and when it expires, from {@code expires_in}. Never printed. */
public record AccessToken(String value, Instant expiresAt) {
    @Override
    public String toString() {
        return "AccessToken[****, expires " + expiresAt + "]";
    }
}
