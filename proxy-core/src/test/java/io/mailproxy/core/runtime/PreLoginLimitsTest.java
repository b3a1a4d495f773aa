package io.mailproxy.core.runtime;

import static io.mailproxy.core.runtime.TestConfigs.config;
import static io.mailproxy.core.runtime.TestConfigs.plain;
import static io.mailproxy.core.runtime.TestConfigs.plainFrom;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.Cidr;
import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.spi.Frontend;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * The limits on connections that have not logged in (Dovecot's way): over max-unauthenticated the oldest is closed
 * for the new one; per non-loopback address, pre-login connections and fixed-client connections are capped, and the
 * new connection is refused instead. Loopback traffic plays LAN where a test needs it: for those runtimes only ::1
 * counts as loopback, so 127.0.0.1 and 127.0.0.3 are two "other hosts" (no byte leaves the machine).
 */
class PreLoginLimitsTest extends RuntimeTestSupport {

    private static final Predicate<InetAddress> ONLY_IPV6_LOOPBACK =
            a -> a.getAddress().length == 16 && a.isLoopbackAddress();
    private ServerRuntime started(Predicate<InetAddress> loopback, LimitsConfig limits, ListenerConfig listener) {
        Map<Protocol, Frontend> frontends = Map.of(Protocol.IMAP, new LineFrontend("imap"),
                Protocol.SMTP, new LineFrontend("smtp"));
        ServerRuntime runtime = new ServerRuntime(TRANSPORT, workers, frontends, meters, Clock.systemUTC(), loopback);
        runtimes.add(runtime);
        runtime.start(config(limits, listener));
        return runtime;
    }

    private LineClient client(String from, InetSocketAddress address) {
        LineClient client = LineClient.connectFrom(from, address);
        clients.add(client);
        return client;
    }

    @Test
    void overThePreLoginLimitTheOldestNotLoggedInIsClosedWithItsGoodbyeForTheNewOne() {
        ServerRuntime runtime = started(InetAddress::isLoopbackAddress, new LimitsConfig(10, 2, Duration.ofSeconds(1), 1),
                plain(Protocol.IMAP, "127.0.0.1", 0));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient first = client("127.0.0.1", address);
        assertThat(first.readLine()).startsWith("+OK imap");
        LineClient second = client("127.0.0.1", address);
        assertThat(second.readLine()).startsWith("+OK imap");

        LineClient third = client("127.0.0.1", address);
        assertThat(third.readLine()).as("the new connection is taken").startsWith("+OK imap");
        assertThat(first.readLine()).as("the oldest says goodbye").isEqualTo("* BYE imap evicted");
        assertThat(first.readLine()).isNull();
        assertThat(second.ask("x")).isEqualTo("echo x");
        assertThat(runtime.unauthenticatedCount()).isEqualTo(2);

        // a session that logged in is never the one to go: the oldest not logged in is
        assertThat(second.ask("LOGIN")).isEqualTo("+OK logged in");
        assertThat(second.ask("LOGIN")).isEqualTo("+OK logged in");   // a second call changes nothing
        assertThat(runtime.unauthenticatedCount()).isEqualTo(1);
        LineClient fourth = client("127.0.0.1", address);
        assertThat(fourth.readLine()).startsWith("+OK imap");
        LineClient fifth = client("127.0.0.1", address);
        assertThat(fifth.readLine()).startsWith("+OK imap");
        assertThat(third.readLine()).isEqualTo("* BYE imap evicted");
        assertThat(third.readLine()).isNull();
        assertThat(second.ask("y")).isEqualTo("echo y");
        assertThat(fourth.ask("z")).isEqualTo("echo z");

        await().atMost(Duration.ofSeconds(5)).until(() -> runtime.sessionCount() == 3);
        assertThat(runtime.unauthenticatedCount()).isEqualTo(2);
        assertThat(meters.get("mailproxy.connections.evicted").tag("protocol", "imap").counter().count())
                .isEqualTo(2.0);
        assertThat(logs.lines(Level.WARN)).filteredOn(l -> l.contains("to admit a new one")).singleElement()
                .asString().matches("2 connections not yet logged in \\(limits\\.max-unauthenticated\\): closed"
                        + " imap-\\w+ from 127\\.0\\.0\\.1:\\d+ \\(open \\d+ s, silent\\) to admit a new one");
        assertThat(logs.lines(Level.INFO)).anyMatch(l -> l.startsWith("session end: protocol=imap") && l.endsWith(
                "outcome=evicted"));

        fourth.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> runtime.unauthenticatedCount() == 1);
        assertThat(runtime.sessionCount()).isEqualTo(2);
        assertThat(meters.get("mailproxy.sessions.open").gauge().value()).isEqualTo(2.0);
    }

    /** A client logging in has spoken; a silent flood has not: the flood replaces itself, not the logins. */
    @Test
    void theOldestThatHasSentNothingGoesFirstThenTheOldest() {
        ServerRuntime runtime = started(InetAddress::isLoopbackAddress, new LimitsConfig(10, 2, Duration.ofSeconds(1), 1),
                plain(Protocol.IMAP, "127.0.0.1", 0));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient talking = client("127.0.0.1", address);
        assertThat(talking.readLine()).startsWith("+OK imap");
        assertThat(talking.ask("USER x")).isEqualTo("echo USER x");
        LineClient silent = client("127.0.0.1", address);
        assertThat(silent.readLine()).startsWith("+OK imap");

        LineClient next = client("127.0.0.1", address);
        assertThat(next.readLine()).startsWith("+OK imap");
        assertThat(silent.readLine()).isEqualTo("* BYE imap evicted");
        assertThat(talking.ask("PASS y")).as("older, but it has spoken").isEqualTo("echo PASS y");

        assertThat(next.ask("z")).isEqualTo("echo z");
        LineClient last = client("127.0.0.1", address);
        assertThat(last.readLine()).startsWith("+OK imap");
        assertThat(talking.readLine()).as("when all have spoken, the oldest").isEqualTo("* BYE imap evicted");
        assertThat(next.ask("w")).isEqualTo("echo w");
    }

    @Test
    void aNonLoopbackAddressOverItsPreLoginCapIsRefusedAndNobodyElseIsEvicted() {
        ServerRuntime runtime = started(ONLY_IPV6_LOOPBACK, new LimitsConfig(100, 100, Duration.ofSeconds(1), 1, 2, 10),
                plainFrom(Protocol.IMAP, "127.0.0.2", "127.0.0.0/8"));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient first = client("127.0.0.1", address);
        assertThat(first.readLine()).startsWith("+OK imap");
        LineClient second = client("127.0.0.1", address);
        assertThat(second.readLine()).startsWith("+OK imap");

        LineClient third = client("127.0.0.1", address);
        assertThat(third.readLine()).isEqualTo("-ERR imap too many connections not yet logged in from this address");
        assertThat(third.readLine()).isNull();
        assertThat(first.ask("x")).isEqualTo("echo x");

        LineClient other = client("127.0.0.3", address);
        assertThat(other.readLine()).as("another address has its own cap").startsWith("+OK imap");

        assertThat(first.ask("LOGIN")).isEqualTo("+OK logged in");
        LineClient again = client("127.0.0.1", address);
        assertThat(again.readLine()).as("a login frees its address's place").startsWith("+OK imap");
        assertThat(meters.get("mailproxy.connections.refused")
                .tag("reason", "too-many-connections-not-yet-logged-in-from-this-address").counter().count())
                .isEqualTo(1.0);
        assertThat(logs.lines(Level.WARN)).anyMatch(l -> l.matches("refused connection from 127\\.0\\.0\\.1 to imap"
                + " 127\\.0\\.0\\.2:\\d+: too many connections not yet logged in from this address"));

        second.close();
        again.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> runtime.unauthenticatedCount() == 1);
        LineClient afterClose = client("127.0.0.1", address);
        assertThat(afterClose.readLine()).as("a close frees its address's place").startsWith("+OK imap");
    }

    @Test
    void loopbackAddressesAreExemptFromThePerAddressCap() {
        ServerRuntime runtime = started(InetAddress::isLoopbackAddress,
                new LimitsConfig(100, 100, Duration.ofSeconds(1), 1, 2, 2),
                plainFrom(Protocol.IMAP, "127.0.0.2", "127.0.0.0/8"));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        for (int i = 0; i < 6; i++) {
            assertThat(client("127.0.0.2", address).readLine()).startsWith("+OK imap");
        }
        assertThat(runtime.unauthenticatedCount()).isEqualTo(6);
    }

    @Test
    void aFixedClientListenerCapsConnectionsPerAddressWithoutClosingOpenOnes() {
        ListenerConfig scanners = new ListenerConfig(Protocol.SMTP, "127.0.0.2", 0, Optional.of("scanner"),
                List.of(Cidr.parse("127.0.0.0/8")), Optional.empty());
        ServerRuntime runtime = started(ONLY_IPV6_LOOPBACK, new LimitsConfig(100, 1, Duration.ofSeconds(1), 1, 1, 2),
                scanners);
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient first = client("127.0.0.1", address);
        assertThat(first.readLine()).startsWith("+OK smtp");
        LineClient second = client("127.0.0.1", address);
        assertThat(second.readLine()).as("fixed-client sessions never count as not logged in").startsWith("+OK smtp");
        assertThat(runtime.unauthenticatedCount()).isZero();

        LineClient third = client("127.0.0.1", address);
        assertThat(third.readLine()).isEqualTo("-ERR smtp too many connections from this address");
        assertThat(third.readLine()).isNull();
        assertThat(first.ask("uploading")).as("an open session is never cut off").isEqualTo("echo uploading");
        assertThat(second.ask("uploading")).isEqualTo("echo uploading");
        assertThat(client("127.0.0.3", address).readLine()).startsWith("+OK smtp");

        first.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> runtime.sessionCount() == 2);
        assertThat(client("127.0.0.1", address).readLine()).startsWith("+OK smtp");
    }
}
