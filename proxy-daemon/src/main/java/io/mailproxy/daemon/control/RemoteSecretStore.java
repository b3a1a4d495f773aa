package io.mailproxy.daemon.control;

import io.mailproxy.core.credentials.SecretStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Optional;

/**
 * The running daemon's secret store, reached over the control socket: write-only by design, except for the OAuth 2.0
 * client secrets that {@code login} needs at the token endpoint.
 */
public final class RemoteSecretStore implements SecretStore {

    private final ControlClient client;

    public RemoteSecretStore(ControlClient client) {
        this.client = client;
    }

    /** Only an OAuth 2.0 client secret comes back (what {@code login} needs); anything else reads as not stored. */
    @Override
    public Optional<String> get(String name) {
        if (name.startsWith(io.mailproxy.core.credentials.TokenService.REFRESH_TOKEN_PREFIX)) {
            return Optional.empty();
        }
        try {
            return client.clientSecret(name);
        } catch (IOException e) {
            throw new UncheckedIOException("the running daemon did not answer for " + name + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void put(String name, String value) {
        try {
            client.putSecret(name, value);
        } catch (IOException e) {
            throw new UncheckedIOException("the running daemon did not store " + name + ": " + e.getMessage(), e);
        }
    }

    @Override
    public boolean delete(String name) {
        try {
            return client.deleteSecret(name);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public List<String> names() {
        try {
            return client.listSecrets();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
