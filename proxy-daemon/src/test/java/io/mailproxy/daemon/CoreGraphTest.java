package io.mailproxy.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.graph.GraphSettings;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's core creates one Graph client with each upstream's configured limits, and closes it (issue 16). */
class CoreGraphTest {

    @TempDir
    Path dir;

    @Test
    void oneGraphClientWithTheUpstreamsLimitsClosedWithTheCore() {
        MailproxyConfig config = ConfigLoader.parse("""
                mailproxy {
                  state-dir = "%s"
                  upstreams.graph { preset = office365-graph, graph-concurrency = 2, graph-upload-chunk = 640K }
                  admin.enabled = false
                }
                """.formatted(dir.resolve("state")), "test");
        Core core = new Core(config, Map.of("MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(new byte[32])));
        try {
            assertThat(core.graph).isNotNull();
            assertThat(Core.graphSettings(config.upstreams().get("graph")))
                    .isEqualTo(new GraphSettings(2, 100, 2_987_712L, 640 * 1024));
        } finally {
            core.close();
        }
        assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().startsWith("mailproxy-graph")
                && t.isAlive());
    }
}
