package io.mailproxy.core.runtime;

import static io.mailproxy.core.runtime.TestConfigs.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.Cidr;
import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.config.ProxyProtocolConfig;
import io.mailproxy.core.spi.Frontend;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * A real listener behind a "load balancer": the test client at 127.0.0.1 is trusted and its PROXY header claims the
 * client is 192.0.2.10 (TEST-NET-1; nothing is ever sent there, it is only a claimed source). allow-from, the
 * per-address pre-login cap, the session log and /status then go by 192.0.2.10.
 */
class ProxyProtocolTest extends RuntimeTestSupport {

    private static ListenerConfig behindProxy(String trusted, Duration timeout, String... allowFrom) {
        return new ListenerConfig(Protocol.IMAP, "127.0.0.1", 0, Optional.empty(),
                java.util.Arrays.stream(allowFrom).map(Cidr::parse).toList(), Optional.empty(),
                Optional.of(new ProxyProtocolConfig(List.of(Cidr.parse(trusted)), timeout)));
    }

    private ServerRuntime started(LimitsConfig limits, ListenerConfig listener) {
        Map<Protocol, Frontend> frontends = Map.of(Protocol.IMAP, new LineFrontend("imap"));
        ServerRuntime runtime = new ServerRuntime(TRANSPORT, workers, frontends, meters, Clock.systemUTC());
        runtimes.add(runtime);
        runtime.start(config(limits, listener));
        return runtime;
    }

    private LineClient client(InetSocketAddress address) {
        LineClient client = LineClient.connectFrom("127.0.0.1", address);
        clients.add(client);
        return client;
    }

    /** Connects from 127.0.0.1 and sends a v1 header claiming {@code claimed}:5555. */
    private LineClient proxied(InetSocketAddress address, String claimed) {
        LineClient client = client(address);
        client.send("PROXY TCP4 " + claimed + " 127.0.0.1 5555 " + address.getPort());
        return client;
    }

    @Test
    void theSessionIsTheClaimedClientsInTheLogAndInStatus() {
        ServerRuntime runtime = started(TestConfigs.NO_LIMITS, behindProxy("127.0.0.1/32", Duration.ofSeconds(5),
                "192.0.2.0/24"));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient client = proxied(address, "192.0.2.10");
        assertThat(client.readLine()).startsWith("+OK imap");
        assertThat(client.ask("x")).isEqualTo("echo x");

        assertThat(runtime.sessions()).singleElement().extracting(SessionInfo::remote).isEqualTo("192.0.2.10:5555");
        int lbPort = client.socket().getLocalPort();
        assertThat(logs.lines(Level.INFO)).anyMatch(l -> l.matches("session start: protocol=imap from=192\\.0\\.2\\.10:5555"
                + " listener=imap 127\\.0\\.0\\.1:\\d+ via=127\\.0\\.0\\.1:" + lbPort));
        assertThat(logs.lines(Level.INFO)).anyMatch(l -> l.matches("listening: imap 127\\.0\\.0\\.1:\\d+ \\(plaintext,"
                + " loopback and 192\\.0\\.2\\.0/24, PROXY protocol from 127\\.0\\.0\\.1/32\\)"));
        client.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> logs.lines(Level.INFO).stream()
                .anyMatch(l -> l.startsWith("session end: protocol=imap") && l.contains(" from=192.0.2.10:5555 ")));
    }

    @Test
    void allowFromJudgesTheClaimedAddress() {
        ServerRuntime runtime = started(TestConfigs.NO_LIMITS, behindProxy("127.0.0.1/32", Duration.ofSeconds(5),
                "192.0.2.0/24"));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient outsider = proxied(address, "198.51.100.7");
        assertThat(outsider.readLine()).as("closed without a greeting").isNull();
        assertThat(logs.lines(Level.WARN)).anyMatch(l -> l.matches("refused connection from 198\\.51\\.100\\.7 to imap"
                + " 127\\.0\\.0\\.1:\\d+: not loopback and not in allow-from"));
        assertThat(runtime.sessionCount()).isZero();
    }

    @Test
    void thePerAddressPreLoginCapCountsTheClaimedAddressNotTheLoadBalancers() {
        ServerRuntime runtime = started(new LimitsConfig(100, 100, Duration.ofSeconds(1), 1, 2, 2),
                behindProxy("127.0.0.1/32", Duration.ofSeconds(5), "192.0.2.0/24"));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        assertThat(proxied(address, "192.0.2.10").readLine()).startsWith("+OK imap");
        assertThat(proxied(address, "192.0.2.10").readLine()).startsWith("+OK imap");
        LineClient third = proxied(address, "192.0.2.10");
        assertThat(third.readLine()).isEqualTo("-ERR imap too many connections not yet logged in from this address");
        assertThat(third.readLine()).isNull();
        assertThat(proxied(address, "192.0.2.11").readLine()).as("another client behind the same balancer")
                .startsWith("+OK imap");
        assertThat(logs.lines(Level.WARN)).anyMatch(l -> l.matches("refused connection from 192\\.0\\.2\\.10 to imap"
                + " 127\\.0\\.0\\.1:\\d+: too many connections not yet logged in from this address"));
    }

    @Test
    void aTrustedPeerWithoutAHeaderGetsNoGreetingAndIsClosedAfterTheTimeout() {
        ServerRuntime runtime = started(TestConfigs.NO_LIMITS, behindProxy("127.0.0.1/32", Duration.ofMillis(300),
                "192.0.2.0/24"));
        LineClient silent = client(runtime.boundAddresses().get(0));
        assertThat(silent.readLine()).as("no greeting before the header; closed at the timeout").isNull();
        assertThat(logs.lines(Level.WARN)).anyMatch(l -> l.matches("refused connection from 127\\.0\\.0\\.1 to imap"
                + " 127\\.0\\.0\\.1:\\d+: no PROXY header within 300 ms \\(proxy-protocol\\.header-timeout\\)"));
        assertThat(meters.get("mailproxy.connections.refused").tag("reason", "proxy-protocol").counter().count())
                .isEqualTo(1.0);
    }

    @Test
    void aHeaderFromAnUntrustedPeerClosesTheConnectionAndAPlainClientIsServed() {
        ServerRuntime runtime = started(TestConfigs.NO_LIMITS, behindProxy("127.0.0.2/32", Duration.ofSeconds(5),
                "192.0.2.0/24"));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient direct = client(address);
        assertThat(direct.readLine()).startsWith("+OK imap");
        assertThat(direct.ask("x")).isEqualTo("echo x");

        LineClient spoofer = client(address);
        assertThat(spoofer.readLine()).startsWith("+OK imap");
        spoofer.send("PROXY TCP4 192.0.2.10 127.0.0.1 5555 " + address.getPort());
        assertThat(spoofer.readLine()).isNull();
        assertThat(logs.lines(Level.WARN)).anyMatch(l -> l.matches("refused connection from 127\\.0\\.0\\.1 to imap"
                + " 127\\.0\\.0\\.1:\\d+: a PROXY header from an address not in proxy-protocol\\.trusted"));
    }

    @Test
    void aV2LocalHealthCheckIsServedAsTheLoadBalancer() throws IOException {
        ServerRuntime runtime = started(TestConfigs.NO_LIMITS, behindProxy("127.0.0.1/32", Duration.ofSeconds(5),
                "192.0.2.0/24"));
        LineClient check = client(runtime.boundAddresses().get(0));
        byte[] local = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0, 0};
        check.socket().getOutputStream().write(local);
        assertThat(check.readLine()).startsWith("+OK imap");
        assertThat(logs.lines(Level.INFO)).anyMatch(l -> l.matches("session start: protocol=imap"
                + " from=127\\.0\\.0\\.1:\\d+ listener=imap 127\\.0\\.0\\.1:\\d+ via=127\\.0\\.0\\.1:\\d+ proxy=local"));
    }

    @Test
    void aVeryBroadTrustedListIsWarnedAboutAtStartUp() {
        started(TestConfigs.NO_LIMITS, behindProxy("0.0.0.0/0", Duration.ofSeconds(5), "192.0.2.0/24"));
        assertThat(logs.lines(Level.WARN)).anyMatch(l -> l.contains("proxy-protocol.trusted includes 0.0.0.0/0"));
    }
}
