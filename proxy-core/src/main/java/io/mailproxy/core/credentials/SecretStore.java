package io.mailproxy.core.credentials;

import java.util.List;
import java.util.Optional;

/** Named secrets, encrypted at rest (AES-256-GCM). Values are never logged. */
public interface SecretStore {

    Optional<String> get(String name);

    void put(String name, String value);

    boolean delete(String name);

    List<String> names();
}
