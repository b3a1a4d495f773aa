package io.mailproxy.core.credentials;

import java.time.Instant;
import java.util.Optional;

/**
 * An account's credential state for {@code /health}, {@code /status} and {@code check}. Never holds a secret.
 *
 * @param ok             the last login attempt for this account got credentials
 * @param lastError      what was missing or refused, with the command that fixes it, when not ok
 * @param lastErrorAt    when that happened
 * @param lastSuccessAt  when credentials were last handed out
 * @param tokenExpiresAt the expiry of the account's newest access token (OAuth 2.0 accounts)
 */
public record CredentialStatus(
        String account,
        boolean ok,
        Optional<String> lastError,
        Optional<Instant> lastErrorAt,
        Optional<Instant> lastSuccessAt,
        Optional<Instant> tokenExpiresAt) { }
