package io.mailproxy.daemon.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.core.credentials.SecretStore;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlServerTest {

    @TempDir
    Path state;

    private final Map<String, String> stored = new ConcurrentHashMap<>();

    private final SecretStore store = new SecretStore() {
        @Override
        public Optional<String> get(String name) {
            return Optional.ofNullable(stored.get(name));
        }

        @Override
        public void put(String name, String value) {
            stored.put(name, value);
        }

        @Override
        public boolean delete(String name) {
            return stored.remove(name) != null;
        }

        @Override
        public List<String> names() {
            return new ArrayList<>(stored.keySet());
        }
    };

    @Test
    void theSocketIsPrivateAndSecretsGoThroughIt() throws Exception {
        try (ControlServer server = ControlServer.start(state, store, List::of, List::of)) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(ControlClient.socketPath(state))))
                    .isEqualTo("rw-------");
            ControlClient client = new ControlClient(state);
            client.putSecret("app", "s3cret value");
            assertThat(stored).containsEntry("app", "s3cret value");
            assertThat(client.listSecrets()).containsExactly("app");
            assertThat(client.deleteSecret("app")).isTrue();
            assertThat(client.deleteSecret("app")).isFalse();
        }
    }

    @Test
    void aSilentClientDoesNotHoldUpOthers() throws Exception {
        try (ControlServer server = ControlServer.start(state, store, () -> List.of("fine"), List::of);
             SocketChannel silent = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            silent.connect(UnixDomainSocketAddress.of(ControlClient.socketPath(state)));
            // the silent connection is open and says nothing; the next request is answered all the same
            assertThat(new ControlClient(state).status()).containsExactly("fine");
        }
    }

    @Test
    void aValueCutAtTheRequestLimitIsRefusedNotStoredShort() throws Exception {
        try (ControlServer server = ControlServer.start(state, store, List::of, List::of)) {
            String big = "x".repeat(ControlProtocol.MAX_REQUEST);
            assertThatThrownBy(() -> new ControlClient(state).putSecret("big", big))
                    .hasMessageContaining("too large");
            assertThat(stored).doesNotContainKey("big");
        }
    }

    @Test
    void aSecondServerOnTheSameStateDirIsRefused() throws Exception {
        try (ControlServer server = ControlServer.start(state, store, List::of, List::of)) {
            assertThatThrownBy(() -> ControlServer.start(state, store, List::of, List::of))
                    .hasMessageContaining("another mailproxy is running");
        }
    }

    @Test
    void onlyAnOAuthClientSecretCanBeReadBackForLogin() throws Exception {
        stored.put("contoso-app", "client s3cret");
        stored.put("oauth2-refresh:contoso:it-admin@contoso.com", "0.AAA-refresh");
        stored.put("reports-pw", "mailbox password");
        try (ControlServer server = ControlServer.start(state, store, List::of, List::of)) {
            server.readableSecrets(name -> name.equals("contoso-app"));
            RemoteSecretStore remote = new RemoteSecretStore(new ControlClient(state));
            assertThat(remote.get("contoso-app")).contains("client s3cret");
            assertThat(remote.get("reports-pw")).isEmpty();
            assertThat(remote.get("oauth2-refresh:contoso:it-admin@contoso.com")).isEmpty();
        }
    }
}
