package io.mailproxy.core.credentials;

import java.util.List;
import java.util.Optional;

/**
 * Why no access token could be had. The message says what is missing or what the identity provider said (its own
 * {@code error} code and the first line of its {@code error_description}, e.g. {@code AADSTS700082: ...}); it never
 * holds a token, a secret or a password.
 */
public final class TokenException extends Exception {
    private static final long serialVersionUID = 1L;

    public enum Reason {
        /** A {@code secret:NAME} (client secret, ROPC password) is not in the secret store. */
        SECRET_MISSING,
        /** No refresh token is stored for the principal: {@code ./mailproxy login} supplies one. */
        REFRESH_TOKEN_MISSING,
        /** The token endpoint could not be reached, timed out, or answered 5xx / garbage. */
        ENDPOINT_UNAVAILABLE,
        /** The identity provider refused the grant ({@code invalid_grant}, {@code invalid_client}, ...). */
        REJECTED,
        /** A signed client assertion was outside its valid time range (AADSTS700024): this clock is off. */
        CLOCK_SKEW,
        /** The client certificate or key cannot be read, or the provider config cannot serve this grant. */
        CONFIGURATION,
        /** An interactive login was declined, expired, or its redirect did not match. */
        LOGIN_FAILED
    }

    private final Reason reason;
    private final String error;
    private final List<Long> errorCodes;

    public TokenException(Reason reason, String message) {
        this(reason, message, null, List.of(), null);
    }

    public TokenException(Reason reason, String message, String error, List<Long> errorCodes, Throwable cause) {
        super(message, cause);
        this.reason = reason;
        this.error = error;
        this.errorCodes = List.copyOf(errorCodes);
    }

    public Reason reason() {
        return reason;
    }

    /** The OAuth {@code error} code ({@code invalid_grant}, ...), when the provider answered with one. */
    public Optional<String> error() {
        return Optional.ofNullable(error);
    }

    /** Microsoft's AADSTS numbers ({@code error_codes}), e.g. 700082; empty for other providers. */
    public List<Long> errorCodes() {
        return errorCodes;
    }

    /** Whether retrying soon might help (the endpoint was down), as opposed to something a person must fix. */
    public boolean transientFailure() {
        return reason == Reason.ENDPOINT_UNAVAILABLE;
    }

    @Override
    public String toString() {
        return "TokenException[" + reason + "]: " + getMessage();
    }
}
