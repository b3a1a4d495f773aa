package io.mailproxy.core.runtime;

import static io.mailproxy.core.runtime.TestConfigs.config;
import static io.mailproxy.core.runtime.TestConfigs.plain;
import static io.mailproxy.core.runtime.TestConfigs.plainFrom;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.config.ListenerTls;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.spi.Frontend;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerRuntimeTest extends RuntimeTestSupport {

    private static Map<Protocol, Frontend> frontends() {
        return Map.of(Protocol.IMAP, new LineFrontend("imap"), Protocol.POP3, new LineFrontend("pop3"),
                Protocol.SMTP, new LineFrontend("smtp"));
    }

    private ServerRuntime runtime(Map<Protocol, Frontend> frontends) {
        ServerRuntime runtime = new ServerRuntime(TRANSPORT, workers, frontends, meters, Clock.systemUTC());
        runtimes.add(runtime);
        return runtime;
    }

    private ServerRuntime started(MailproxyConfig config) {
        ServerRuntime runtime = runtime(frontends());
        runtime.start(config);
        return runtime;
    }

    private LineClient client(InetSocketAddress address) {
        LineClient client = LineClient.connect(address);
        clients.add(client);
        return client;
    }

    private static String port(InetSocketAddress address) {
        return Integer.toString(address.getPort());
    }

    @Test
    void bindsEveryListenerOnTheRealPortAndHandsConnectionsToItsFrontend() {
        ServerRuntime runtime = started(config(plain(Protocol.IMAP, "127.0.0.1", 0),
                plain(Protocol.POP3, "127.0.0.1", 0), plain(Protocol.SMTP, "127.0.0.1", 0)));

        List<InetSocketAddress> bound = runtime.boundAddresses();
        assertThat(bound).hasSize(3).allSatisfy(a -> {
            assertThat(a.getAddress().getHostAddress()).isEqualTo("127.0.0.1");
            assertThat(a.getPort()).isPositive();
        });
        assertThat(client(bound.get(0)).readLine()).matches("\\+OK imap imap-[0-9a-z]+ secure=false");
        assertThat(client(bound.get(1)).readLine()).matches("\\+OK pop3 pop3-[0-9a-z]+ secure=false");
        LineClient smtp = client(bound.get(2));
        assertThat(smtp.readLine()).startsWith("+OK smtp smtp-");
        assertThat(smtp.ask("hello there")).isEqualTo("echo hello there");
        assertThat(logs.lines(Level.INFO)).contains(
                "listening: imap 127.0.0.1:" + port(bound.get(0)) + " (plaintext, loopback only)",
                "listening: pop3 127.0.0.1:" + port(bound.get(1)) + " (plaintext, loopback only)",
                "listening: smtp 127.0.0.1:" + port(bound.get(2)) + " (plaintext, loopback only)");
        assertThat(logs.lines(Level.WARN)).isEmpty();
        await().atMost(Duration.ofSeconds(5)).until(() -> runtime.sessionCount() == 3);
    }

    @Test
    void worksOnTheNioTransportToo() {
        EventLoopGroup nioWorkers = Transport.nio().newEventLoopGroup(1, "test-nio");
        try {
            ServerRuntime runtime = new ServerRuntime(Transport.nio(), nioWorkers, frontends(), meters,
                    Clock.systemUTC());
            runtime.start(config(plain(Protocol.IMAP, "127.0.0.1", 0)));
            try (LineClient client = LineClient.connect(runtime.boundAddresses().get(0))) {
                assertThat(client.readLine()).startsWith("+OK imap imap-");
                assertThat(client.ask("x")).isEqualTo("echo x");
            } finally {
                runtime.shutdown(Duration.ofSeconds(2));
            }
        } finally {
            nioWorkers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        assertThat(Transport.detect().name()).isIn("epoll", "nio");
    }

    @Test
    void sessionIdsAreUniqueAndInTheMdcOfEveryLogLineOfTheSession() {
        ServerRuntime runtime = started(config(plain(Protocol.IMAP, "127.0.0.1", 0)));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient first = client(address);
        LineClient second = client(address);
        String firstId = first.readLine().split(" ")[2];
        String secondId = second.readLine().split(" ")[2];
        assertThat(firstId).isNotEqualTo(secondId).startsWith("imap-");

        assertThat(first.ask("one")).isEqualTo("echo one");
        assertThat(second.ask("two")).isEqualTo("echo two");

        assertThat(sessionOf("got line one")).isEqualTo(firstId);
        assertThat(sessionOf("got line two")).isEqualTo(secondId);
        assertThat(logs.events().stream().filter(e -> e.getFormattedMessage().equals("greeting"))
                .map(e -> e.getMDCPropertyMap().get("session"))).containsExactlyInAnyOrder(firstId, secondId);

        first.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> logs.events().stream().anyMatch(e ->
                e.getFormattedMessage().startsWith("session end:") && firstId.equals(
                        e.getMDCPropertyMap().get("session"))));
    }

    private String sessionOf(String message) {
        return logs.events().stream().filter(e -> e.getFormattedMessage().equals(message))
                .map(ILoggingEvent::getMDCPropertyMap).map(m -> m.get("session")).findFirst().orElseThrow();
    }

    @Test
    void allowFromClosesOtherAddressesAtOnceWithAWarning() {
        // Loopback traffic plays LAN: for this runtime only ::1 counts as loopback, so 127.0.0.1 is "another host"
        // and a listener on 127.0.0.2 is "bound to a LAN address".
        Predicate<InetAddress> onlyIpv6Loopback = a -> a.getAddress().length == 16 && a.isLoopbackAddress();
        ServerRuntime runtime = new ServerRuntime(TRANSPORT, workers, frontends(), meters, Clock.systemUTC(),
                onlyIpv6Loopback);
        runtimes.add(runtime);
        runtime.start(config(plainFrom(Protocol.SMTP, "127.0.0.2", "127.0.0.3/32", "10.0.0.0/8"),
                plainFrom(Protocol.SMTP, "127.0.0.2", "127.0.0.0/30")));
        InetSocketAddress closed = runtime.boundAddresses().get(0);
        InetSocketAddress open = runtime.boundAddresses().get(1);

        LineClient refused = LineClient.connectFrom("127.0.0.1", closed);
        clients.add(refused);
        assertThat(refused.readLine()).isNull();

        LineClient allowed = LineClient.connectFrom("127.0.0.1", open);
        clients.add(allowed);
        assertThat(allowed.readLine()).startsWith("+OK smtp");

        assertThat(logs.lines(Level.WARN)).contains(
                "refused connection from 127.0.0.1 to smtp 127.0.0.2:" + port(closed)
                        + ": not loopback and not in allow-from",
                "plaintext listener smtp 127.0.0.2:" + port(closed) + " is reachable from other hosts (loopback and"
                        + " 127.0.0.3/32, 10.0.0.0/8): passwords and mail cross the network unencrypted");
        assertThat(logs.events().stream().filter(e -> e.getFormattedMessage().startsWith("refused connection"))
                .map(e -> e.getMDCPropertyMap().get("session"))).singleElement().asString().startsWith("smtp-");
        assertThat(meters.get("mailproxy.connections.refused").tag("reason", "allow-from").counter().count())
                .isEqualTo(1.0);
        assertThat(runtime.sessionCount()).isEqualTo(1);
    }

    @Test
    void overTheConnectionLimitTheFrontendRefusesInItsProtocol() {
        ServerRuntime runtime = started(config(new LimitsConfig(2, 100, Duration.ofSeconds(1), 1),
                plain(Protocol.POP3, "127.0.0.1", 0)));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient first = client(address);
        LineClient second = client(address);
        assertThat(first.readLine()).startsWith("+OK");
        assertThat(second.readLine()).startsWith("+OK");

        LineClient third = client(address);
        assertThat(third.readLine()).isEqualTo("-ERR pop3 too many connections");
        assertThat(third.readLine()).isNull();

        assertThat(first.ask("QUIT")).isEqualTo("+OK bye");
        await().atMost(Duration.ofSeconds(5)).until(() -> runtime.sessionCount() == 1);
        assertThat(client(address).readLine()).startsWith("+OK pop3");
        assertThat(logs.lines(Level.WARN)).anyMatch(l -> l.matches(
                "refused connection from 127\\.0\\.0\\.1 to pop3 127\\.0\\.0\\.1:\\d+: too many connections"));
    }

    @Test
    void aFloodOfRefusedConnectionsLogsOneLineAndCountsThemAll() {
        ServerRuntime runtime = started(config(new LimitsConfig(1, 100, Duration.ofSeconds(1), 1),
                plain(Protocol.POP3, "127.0.0.1", 0)));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        assertThat(client(address).readLine()).startsWith("+OK");
        for (int i = 0; i < 50; i++) {
            LineClient refused = client(address);
            assertThat(refused.readLine()).isEqualTo("-ERR pop3 too many connections");
            assertThat(refused.readLine()).isNull();
        }
        assertThat(meters.get("mailproxy.connections.refused").counter().count()).isEqualTo(50.0);
        assertThat(logs.lines(Level.WARN)).filteredOn(l -> l.startsWith("refused connection")).hasSize(1);
    }

    @Test
    void shutdownSaysGoodbyeToEverySessionThenReturns() {
        ServerRuntime runtime = started(config(plain(Protocol.IMAP, "127.0.0.1", 0),
                plain(Protocol.SMTP, "127.0.0.1", 0)));
        InetSocketAddress imap = runtime.boundAddresses().get(0);
        InetSocketAddress smtp = runtime.boundAddresses().get(1);
        List<LineClient> sessions = List.of(client(imap), client(imap), client(smtp));
        sessions.forEach(c -> assertThat(c.readLine()).startsWith("+OK"));
        await().atMost(Duration.ofSeconds(5)).until(() -> runtime.sessionCount() == 3);

        long started = System.nanoTime();
        runtime.shutdown(Duration.ofSeconds(10));
        Duration took = Duration.ofNanos(System.nanoTime() - started);

        assertThat(took).isLessThan(Duration.ofSeconds(5));
        assertThat(sessions.get(0).readLine()).isEqualTo("* BYE imap shutting down");
        assertThat(sessions.get(1).readLine()).isEqualTo("* BYE imap shutting down");
        assertThat(sessions.get(2).readLine()).isEqualTo("* BYE smtp shutting down");
        sessions.forEach(c -> assertThat(c.readLine()).isNull());
        assertThat(runtime.sessionCount()).isZero();
        assertThatThrownBy(() -> LineClient.connect(imap)).isInstanceOf(UncheckedIOException.class)
                .hasCauseInstanceOf(ConnectException.class);
        assertThat(logs.lines(Level.INFO)).contains("shutting down: saying goodbye to 3 session(s), waiting up to PT10S");
        runtime.shutdown(Duration.ofSeconds(1));     // a second call returns at once
    }

    @Test
    void shutdownClosesBySessionsThatIgnoreTheGoodbyeAfterTheGrace() {
        ServerRuntime runtime = runtime(Map.of(Protocol.IMAP, new LineFrontend("imap", true)));
        runtime.start(config(plain(Protocol.IMAP, "127.0.0.1", 0)));
        LineClient stubborn = client(runtime.boundAddresses().get(0));
        assertThat(stubborn.readLine()).startsWith("+OK");
        await().atMost(Duration.ofSeconds(5)).until(() -> runtime.sessionCount() == 1);

        long started = System.nanoTime();
        runtime.shutdown(Duration.ofMillis(300));
        Duration took = Duration.ofNanos(System.nanoTime() - started);

        assertThat(took).isBetween(Duration.ofMillis(300), Duration.ofSeconds(5));
        assertThat(stubborn.readLine()).isNull();
        assertThat(runtime.sessionCount()).isZero();
        assertThat(logs.lines(Level.WARN)).contains("1 session(s) still open after PT0.3S; closing them");
    }

    @Test
    void reloadKeepsSessionsAddsAndRemovesListeners() {
        ListenerConfig imap = plain(Protocol.IMAP, "127.0.0.1", 0);
        ListenerConfig pop3 = plain(Protocol.POP3, "127.0.0.1", 0);
        ServerRuntime runtime = started(config(imap, pop3));
        InetSocketAddress imapAddress = runtime.boundAddresses().get(0);
        InetSocketAddress pop3Address = runtime.boundAddresses().get(1);
        LineClient imapSession = client(imapAddress);
        LineClient pop3Session = client(pop3Address);
        assertThat(imapSession.readLine()).startsWith("+OK imap");
        assertThat(pop3Session.readLine()).startsWith("+OK pop3");

        ListenerConfig smtp = plain(Protocol.SMTP, "127.0.0.1", 0);
        runtime.reload(config(imap, smtp));

        List<InetSocketAddress> bound = runtime.boundAddresses();
        assertThat(bound).hasSize(2);
        assertThat(bound.get(0)).isEqualTo(imapAddress);              // kept, same socket
        assertThat(bound.get(1)).isNotEqualTo(pop3Address);
        assertThat(imapSession.ask("still here?")).isEqualTo("echo still here?");
        assertThat(pop3Session.ask("and me?")).isEqualTo("echo and me?");   // removed listener, session goes on
        assertThatThrownBy(() -> LineClient.connect(pop3Address)).hasCauseInstanceOf(ConnectException.class);
        assertThat(client(bound.get(1)).readLine()).startsWith("+OK smtp");
        assertThat(client(imapAddress).readLine()).startsWith("+OK imap");
        assertThat(logs.lines(Level.INFO)).contains(
                "stopped listening: pop3 127.0.0.1:" + port(pop3Address) + " (its open sessions continue)",
                "listening: smtp 127.0.0.1:" + port(bound.get(1)) + " (plaintext, loopback only)");
    }

    @Test
    void reloadAppliesNewLimitsAndFrontendsToNewConnectionsOnly() {
        ListenerConfig imap = plain(Protocol.IMAP, "127.0.0.1", 0);
        ServerRuntime runtime = started(config(imap));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient old = client(address);
        assertThat(old.readLine()).startsWith("+OK imap ");

        runtime.reload(config(new LimitsConfig(2, 100, Duration.ofSeconds(1), 1), imap),
                Map.of(Protocol.IMAP, new LineFrontend("imap-v2")));

        assertThat(client(address).readLine()).startsWith("+OK imap-v2 ");
        assertThat(client(address).readLine()).isEqualTo("-ERR imap-v2 too many connections");
        assertThat(old.ask("x")).isEqualTo("echo x");
    }

    @Test
    void aKeptListenerWhoseSettingsChangedIsLoggedAgain() {
        ServerRuntime runtime = started(config(plain(Protocol.SMTP, "127.0.0.1", 0)));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        runtime.reload(config(new ListenerConfig(Protocol.SMTP, "127.0.0.1", 0, java.util.Optional.of("scanner@x.test"),
                List.of(), java.util.Optional.empty())));
        assertThat(runtime.boundAddresses()).containsExactly(address);
        assertThat(logs.lines(Level.INFO)).containsSubsequence(
                "listening: smtp 127.0.0.1:" + port(address) + " (plaintext, loopback only)",
                "listening: smtp 127.0.0.1:" + port(address) + " (plaintext, loopback only, fixed client scanner@x.test)");
    }

    @Test
    void aBindConflictNamesTheListenerAndLeavesNothingBound() throws IOException {
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            ServerRuntime runtime = runtime(frontends());
            MailproxyConfig config = config(plain(Protocol.IMAP, "127.0.0.1", 0),
                    plain(Protocol.SMTP, "127.0.0.1", taken.getLocalPort()));

            assertThatThrownBy(() -> runtime.start(config))
                    .isInstanceOf(ListenerException.class)
                    .hasMessageStartingWith("listener smtp 127.0.0.1:" + taken.getLocalPort() + ": cannot listen on"
                            + " 127.0.0.1:" + taken.getLocalPort() + ": ")
                    .hasMessageContaining("Address already in use")
                    .satisfies(e -> assertThat(((ListenerException) e).listener().protocol()).isEqualTo(Protocol.SMTP));
            assertThat(runtime.boundAddresses()).isEmpty();
            assertThat(logs.lines(Level.INFO)).noneMatch(l -> l.startsWith("listening: imap"));
        }
    }

    @Test
    void aFailedReloadKeepsTheOldStateAndThrows(@TempDir Path dir) throws IOException {
        ListenerConfig imap = plain(Protocol.IMAP, "127.0.0.1", 0);
        ServerRuntime runtime = started(config(imap));
        InetSocketAddress address = runtime.boundAddresses().get(0);
        LineClient session = client(address);
        assertThat(session.readLine()).startsWith("+OK");

        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            ListenerConfig fresh = plain(Protocol.POP3, "127.0.0.1", 0);
            ListenerConfig conflicting = plain(Protocol.SMTP, "127.0.0.1", taken.getLocalPort());
            assertThatThrownBy(() -> runtime.reload(config(new LimitsConfig(1, 1, Duration.ZERO, 1), fresh,
                    conflicting)))
                    .isInstanceOf(ListenerException.class)
                    .hasMessageContaining("smtp 127.0.0.1:" + taken.getLocalPort());
        }
        ListenerConfig badTls = TestConfigs.tls(Protocol.IMAP, "127.0.0.1", 0,
                new ListenerTls(ListenerTls.Mode.IMPLICIT, dir.resolve("missing.crt"), dir.resolve("missing.key")));
        assertThatThrownBy(() -> runtime.reload(config(imap, badTls)))
                .isInstanceOf(ListenerException.class)
                .hasMessage("listener imap 127.0.0.1:0: cannot read certificate file " + dir.resolve("missing.crt")
                        + ": no such file");

        assertThat(runtime.boundAddresses()).containsExactly(address);
        assertThat(session.ask("alive")).isEqualTo("echo alive");
        assertThat(client(address).readLine()).startsWith("+OK imap");    // old limits still apply
        assertThat(client(address).readLine()).startsWith("+OK imap");
    }

    @Test
    void anExceptionNoFrontendHandlerCaughtIsLoggedOnceAndClosesTheSession() {
        ServerRuntime runtime = started(config(plain(Protocol.IMAP, "127.0.0.1", 0)));
        LineClient client = client(runtime.boundAddresses().get(0));
        String id = client.readLine().split(" ")[2];
        client.send("THROW");
        assertThat(client.readLine()).isNull();
        await().atMost(Duration.ofSeconds(5)).until(() -> runtime.sessionCount() == 0);
        assertThat(logs.events().stream().filter(e -> e.getLevel() == Level.WARN))
                .singleElement()
                .satisfies(e -> {
                    assertThat(e.getFormattedMessage()).isEqualTo("unexpected error; closing the connection");
                    assertThat(e.getThrowableProxy().getMessage()).isEqualTo("boom");
                    assertThat(e.getMDCPropertyMap()).containsEntry("session", id);
                });
    }

    @Test
    void aListenerWithoutFrontendIsAClearError() {
        ServerRuntime runtime = runtime(Map.of(Protocol.IMAP, new LineFrontend("imap")));
        assertThatThrownBy(() -> runtime.start(config(plain(Protocol.POP3, "127.0.0.1", 0))))
                .isInstanceOf(ListenerException.class)
                .hasMessage("listener pop3 127.0.0.1:0: no pop3 frontend is installed (its module is missing from the"
                        + " class path)");
    }
}
