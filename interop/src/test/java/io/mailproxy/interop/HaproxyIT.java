package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.daemon.Daemon;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Debian's HAProxy in front of mailproxy with {@code send-proxy-v2}, and curl through both. All loopback, but with
 * three different addresses so the log shows whose is whose: curl connects from 127.0.0.5 to HAProxy on 127.0.0.3,
 * HAProxy connects to mailproxy from 127.0.0.1 (the only trusted address). A second HAProxy frontend rewrites the
 * client's source to 192.0.2.10 ({@code tcp-request connection set-src}; nothing is sent there), which allow-from
 * does not list: mailproxy refuses it on that address, though the TCP peer is loopback.
 */
@ExtendWith(Interop.Extension.class)
class HaproxyIT {

    private static final String CLIENT_ADDRESS = "127.0.0.5";
    private static final String HAPROXY_ADDRESS = "127.0.0.3";

    Interop env;
    Daemon mailproxy;
    Process haproxy;
    Path dir;
    int mailproxyPort;
    int directPort;
    int spoofedPort;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        dir = Files.createDirectories(env.scratch.resolve("haproxy"));
        mailproxyPort = freePort("127.0.0.1");
        directPort = freePort(HAPROXY_ADDRESS);
        spoofedPort = freePort(HAPROXY_ADDRESS);
        // the suite's own configuration (accounts, clients, Dovecot upstream) with one listener behind HAProxy
        String base = env.proxy().config;
        String listeners = "  listeners = [\n    { protocol = imap, bind = \"127.0.0.1\", port = " + mailproxyPort
                + ", allow-from = [\"198.51.100.0/24\"], proxy-protocol { trusted = [\"127.0.0.1/32\"] } }\n  ]\n";
        String hocon = base.substring(0, base.indexOf("  listeners = [\n")) + listeners
                + base.substring(base.indexOf("  ]\n", base.indexOf("  listeners = [\n")) + 4);
        hocon = hocon.replaceFirst("state-dir = \"[^\"]*\"", "state-dir = \"" + dir.resolve("state") + "\"");
        mailproxy = Daemon.start(ConfigLoader.parse(hocon, "haproxy-it"), Map.of());

        Path cfg = dir.resolve("haproxy.cfg");
        Files.writeString(cfg, String.join("\n",
                "global",
                "    log stderr format raw local0 info",
                "defaults",
                "    mode tcp",
                "    log global",
                "    option tcplog",
                "    timeout connect 5s",
                "    timeout client 60s",
                "    timeout server 60s",
                "frontend direct",
                "    bind " + HAPROXY_ADDRESS + ":" + directPort,
                "    default_backend mailproxy",
                "frontend spoofed",
                "    bind " + HAPROXY_ADDRESS + ":" + spoofedPort,
                "    tcp-request connection set-src ipv4(192.0.2.10)",
                "    default_backend mailproxy",
                "backend mailproxy",
                // health checks carry a v2 LOCAL header (HAProxy's default with send-proxy-v2)
                "    server mp 127.0.0.1:" + mailproxyPort + " send-proxy-v2 source 127.0.0.1 check inter 1s",
                ""));
        Proc.Result check = Proc.run(Duration.ofSeconds(20), List.of("haproxy", "-c", "-f", cfg.toString()));
        assertThat(check.exit()).as(check.describe()).isZero();
        haproxy = new ProcessBuilder("haproxy", "-db", "-f", cfg.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("haproxy.out").toFile()).start();
        await("haproxy listening").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50)).until(() -> {
            if (!haproxy.isAlive()) {
                throw new IllegalStateException("haproxy exited: " + Files.readString(dir.resolve("haproxy.out")));
            }
            // the direct frontend only: haproxy binds both at once, and a probe through the spoofed one would be
            // refused by mailproxy before the test, whose own refusal line the once-per-10-s refusal log then holds back
            return accepts(HAPROXY_ADDRESS, directPort);
        });
    }

    @AfterEach
    void tearDown() throws Exception {
        if (haproxy != null) {
            haproxy.destroy();
            if (!haproxy.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                haproxy.destroyForcibly();
            }
        }
        if (mailproxy != null) {
            mailproxy.close();
        }
    }

    @Test
    void curlThroughHaproxyIsLoggedUnderItsOwnAddressAndAllowFromJudgesTheAddressHaproxyVouchesFor()
            throws IOException {
        long mark = env.logs.mark();
        String client = CurlIT.CLIENT;
        String url = "imap://" + client + ":" + Proxy.secret(client) + "@" + HAPROXY_ADDRESS + ":";
        Proc.Result r = CurlIT.curl(url + directPort + "/", "--interface", CLIENT_ADDRESS);
        assertThat(r.exit()).as(r.describe() + "\n" + haproxyLog()).isZero();
        assertThat(r.out()).contains("INBOX");

        Pattern start = Pattern.compile(".* - session start: protocol=imap from=127\\.0\\.0\\.5:\\d+ listener=imap"
                + " 127\\.0\\.0\\.1:" + mailproxyPort + " via=127\\.0\\.0\\.1:\\d+");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(env.logs.since(mark))
                .anyMatch(l -> start.matcher(l).matches())
                .anyMatch(l -> l.contains("session end: protocol=imap client=" + client + " ")
                        && l.contains(" from=127.0.0.5:")));

        Proc.Result refused = CurlIT.curl(url + spoofedPort + "/", "--interface", CLIENT_ADDRESS);
        assertThat(refused.exit()).as(refused.describe()).isNotZero();
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(env.logs.since(mark)).anyMatch(l ->
                l.matches(".* - refused connection from 192\\.0\\.2\\.10 to imap 127\\.0\\.0\\.1:" + mailproxyPort
                        + ": not loopback and not in allow-from")));

        // HAProxy's own health checks: a v2 LOCAL header, served as HAProxy itself
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(env.logs.since(mark)).anyMatch(l ->
                l.matches(".* - session start: protocol=imap from=127\\.0\\.0\\.1:\\d+ listener=imap 127\\.0\\.0\\.1:"
                        + mailproxyPort + " via=127\\.0\\.0\\.1:\\d+ proxy=local")));
        assertThat(env.logs.since(mark)).as("nothing refused for the PROXY protocol")
                .noneMatch(l -> l.contains("PROXY header"));
    }

    private String haproxyLog() {
        try {
            return "--- haproxy ---\n" + Files.readString(dir.resolve("haproxy.out"));
        } catch (IOException e) {
            return "(no haproxy log: " + e + ")";
        }
    }

    private static boolean accepts(String host, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(host))) {
            return s.getLocalPort();
        }
    }
}
