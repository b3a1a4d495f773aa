package io.mailproxy.core.credentials;

/**
 * The secret store cannot be opened, read or written. The message names the file and what to do about it; it never
 * holds a secret value.
 */
public final class SecretStoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SecretStoreException(String message) {
        super(message);
    }

    public SecretStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
