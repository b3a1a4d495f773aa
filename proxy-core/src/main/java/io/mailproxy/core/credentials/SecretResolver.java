package io.mailproxy.core.credentials;

import io.mailproxy.core.config.SecretRef;
import java.util.Optional;

/**
 * What a {@link SecretRef} in config stands for: a literal is its own value, {@code secret:NAME} is read from the
 * secret store at each call, so {@code ./mailproxy secret set} takes effect without a restart. The one place that
 * resolves a reference; each caller words a failure for its own context (an account's login, a token request).
 * Reading the store is file I/O: never on an event loop.
 */
public final class SecretResolver {

    private final SecretStore store;

    public SecretResolver(SecretStore store) {
        this.store = store;
    }

    /**
     * @return the secret's value
     * @throws Unavailable when {@code secret:NAME} is not stored, or the store cannot be read
     */
    public String resolve(SecretRef ref) throws Unavailable {
        if (ref instanceof SecretRef.Literal literal) {
            return literal.value();
        }
        String name = ((SecretRef.Stored) ref).name();
        Optional<String> value;
        try {
            value = store.get(name);
        } catch (SecretStoreException e) {
            throw new Unavailable(name, e);
        }
        return value.orElseThrow(() -> new Unavailable(name, null));
    }

    /** Whether {@code ref} is {@code secret:NAME} for this {@code name}. */
    public static boolean refersTo(SecretRef ref, String name) {
        return ref instanceof SecretRef.Stored stored && stored.name().equals(name);
    }

    /** A {@code secret:NAME} that cannot be resolved now. Its message names the secret, never a value. */
    public static final class Unavailable extends Exception {
        private static final long serialVersionUID = 1L;

        private final String name;

        Unavailable(String name, SecretStoreException storeFailure) {
            super(storeFailure == null ? "secret '" + name + "' is not stored"
                    : "cannot read secret '" + name + "': " + storeFailure.getMessage(), storeFailure);
            this.name = name;
        }

        /** The secret's name in the store. */
        public String name() {
            return name;
        }

        /** Why the store could not be read; empty when the secret is simply not stored. */
        public Optional<SecretStoreException> storeFailure() {
            return Optional.ofNullable((SecretStoreException) getCause());
        }
    }
}
