package io.mailproxy.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One daemon per state-dir: a second one stops before it touches the spool or the secret store. */
class StateLockTest {

    @TempDir
    Path dir;

    @Test
    void aSecondDaemonOnTheSameStateDirStopsAtOnceAndTheFirstKeepsItsSpool() throws Exception {
        MailproxyConfig config = ConfigLoader.parse("""
                mailproxy {
                  state-dir = "%s"
                  listeners = [ { protocol = smtp, bind = "127.0.0.1", port = 0 } ]
                  admin { enabled = false }
                }
                """.formatted(dir.resolve("state")), "test");
        Map<String, String> env = Map.of("MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(new byte[32]));
        try (Daemon first = Daemon.start(config, env)) {
            Path spool = dir.resolve("state").resolve("spool");
            Files.createDirectories(spool);
            Path inFlight = Files.writeString(spool.resolve("ABC.msg"), "a message whose envelope is not written yet");
            assertThatThrownBy(() -> Daemon.start(config, env)).hasMessageContaining("already running");
            assertThat(inFlight).exists();
            assertThat(first.boundAddresses()).hasSize(1);
        }
        // released with the first daemon
        try (Daemon again = Daemon.start(config, env)) {
            assertThat(again.boundAddresses()).hasSize(1);
        }
    }
}
