package io.mailproxy.core.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.core.config.SecretRef;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class SecretResolverTest {

    /** A store holding one secret; {@code broken} makes every read fail as a damaged store file would. */
    private static SecretStore store(Map<String, String> secrets, boolean broken) {
        return new SecretStore() {
            @Override
            public Optional<String> get(String name) {
                if (broken) {
                    throw new SecretStoreException("secret store /state/secrets.enc cannot be decrypted");
                }
                return Optional.ofNullable(secrets.get(name));
            }

            @Override
            public void put(String name, String value) {
                throw new UnsupportedOperationException();
            }

            @Override
            public boolean delete(String name) {
                throw new UnsupportedOperationException();
            }

            @Override
            public List<String> names() {
                return List.copyOf(secrets.keySet());
            }
        };
    }

    @Test
    void aLiteralIsItsOwnValueAndNeverReadsTheStore() throws Exception {
        SecretResolver resolver = new SecretResolver(store(Map.of(), true));
        assertThat(resolver.resolve(SecretRef.parse("hunter2"))).isEqualTo("hunter2");
    }

    @Test
    void aStoredSecretIsReadAtEachCall() throws Exception {
        Map<String, String> secrets = new java.util.HashMap<>(Map.of("contoso-app", "first"));
        SecretResolver resolver = new SecretResolver(store(secrets, false));
        assertThat(resolver.resolve(SecretRef.parse("secret:contoso-app"))).isEqualTo("first");
        secrets.put("contoso-app", "second"); // ./mailproxy secret set, no restart
        assertThat(resolver.resolve(SecretRef.parse("secret:contoso-app"))).isEqualTo("second");
    }

    @Test
    void aMissingSecretNamesItselfWithoutAStoreFailure() {
        SecretResolver resolver = new SecretResolver(store(Map.of(), false));
        assertThatThrownBy(() -> resolver.resolve(SecretRef.parse("secret:reports-pw")))
                .isInstanceOfSatisfying(SecretResolver.Unavailable.class, e -> {
                    assertThat(e.name()).isEqualTo("reports-pw");
                    assertThat(e.storeFailure()).isEmpty();
                    assertThat(e).hasMessage("secret 'reports-pw' is not stored");
                });
    }

    @Test
    void anUnreadableStoreIsReportedWithItsCause() {
        SecretResolver resolver = new SecretResolver(store(Map.of("reports-pw", "x"), true));
        assertThatThrownBy(() -> resolver.resolve(SecretRef.parse("secret:reports-pw")))
                .isInstanceOfSatisfying(SecretResolver.Unavailable.class, e -> {
                    assertThat(e.name()).isEqualTo("reports-pw");
                    assertThat(e.storeFailure()).get().extracting(Throwable::getMessage)
                            .isEqualTo("secret store /state/secrets.enc cannot be decrypted");
                    assertThat(e).hasMessage("cannot read secret 'reports-pw': secret store /state/secrets.enc "
                            + "cannot be decrypted");
                });
    }

    @Test
    void refersToMatchesOnlyTheStoredSecretOfThatName() {
        assertThat(SecretResolver.refersTo(SecretRef.parse("secret:contoso-app"), "contoso-app")).isTrue();
        assertThat(SecretResolver.refersTo(SecretRef.parse("secret:contoso-app"), "other")).isFalse();
        assertThat(SecretResolver.refersTo(SecretRef.parse("contoso-app"), "contoso-app")).isFalse();
    }
}
