package io.mailproxy.core.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.mailproxy.testkit.Office365;
import io.mailproxy.testkit.ScriptedUpstream;
import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import io.mailproxy.testkit.TestCertificates;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A host with several addresses (outlook.office365.com has many, IPv4 and IPv6): the connector tries them in turn
 * when one refuses or does not answer, within the connect timeout, and only for the TCP connect. The host is
 * {@code localhost} (the test certificate's name) resolved by an injected lookup to loopback addresses only.
 */
class NettyUpstreamConnectorAddressesTest {

    private static final String MAILBOX = "reports@contoso.com";
    private static final String TOKEN = "EwBwA8l6BAAUO9chh8cJscQLmU+LSWpbnr0vmwwAAXRoken";
    private static final TestCertificates CERTS = TestCertificates.shared();
    private static final InetAddress V6_LOOPBACK = address("::1");
    private static final InetAddress V4_LOOPBACK = address("127.0.0.1");
    private static final InetAddress SECOND_V4_LOOPBACK = address("127.0.0.2");

    private final ConnectorFixture fixture = new ConnectorFixture().bearer(MAILBOX, TOKEN).caFile(CERTS.caPem());
    private final Logger logger = (Logger) LoggerFactory.getLogger(NettyUpstreamConnector.class);
    private final ListAppender<ILoggingEvent> log = new ListAppender<>();
    private Level previousLevel;

    @BeforeEach
    void captureLog() {
        previousLevel = logger.getLevel();
        logger.setLevel(Level.DEBUG);
        log.start();
        logger.addAppender(log);
    }

    @AfterEach
    void close() {
        logger.detachAppender(log);
        logger.setLevel(previousLevel);
        fixture.close();
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    private void localhostIs(InetAddress... addresses) {
        fixture.hosts(host -> {
            assertThat(host).isEqualTo("localhost");
            return List.of(addresses);
        });
    }

    private List<String> debugLines() {
        return log.list.stream().filter(e -> e.getLevel() == Level.DEBUG).map(ILoggingEvent::getFormattedMessage)
                .filter(m -> m.contains("connecting to")).toList();
    }

    @Test
    void whenTheFirstAddressRefusesTheSecondServesTheLogin() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            localhostIs(V6_LOOPBACK, V4_LOOPBACK); // nothing listens on [::1]:port

            UpstreamSession s = fixture.session("imaps://localhost:" + up.port());

            assertThat(s.greeting()).isEqualTo(Office365.IMAP_GREETING);
            assertThat(up.connections()).isEqualTo(1);
            assertThat(fixture.lookups).containsExactly("localhost off the event loop");
            assertThat(debugLines()).singleElement().asString()
                    .startsWith("reports@contoso.com imaps://localhost:" + up.port() + ": connecting to 0:0:0:0:0:0:0:1 failed")
                    .contains("refused")
                    .endsWith("trying the next of 2 addresses");
        }
    }

    @Test
    void whenEveryAddressRefusesTheErrorNamesTheHostAndHowManyWereTried() throws Exception {
        int port = closedPort();
        localhostIs(V6_LOOPBACK, V4_LOOPBACK);

        UpstreamException e = fixture.failure("imaps://localhost:" + port);

        assertThat(e.kind()).isEqualTo(Kind.UNREACHABLE);
        assertThat(e.getMessage()).startsWith("cannot connect to imaps://localhost:" + port
                        + ": tried all 2 addresses of localhost (0:0:0:0:0:0:0:1: connection refused")
                .contains("; 127.0.0.1: connection refused");
        assertThat(debugLines()).hasSize(2);
    }

    @Test
    void aSingleRefusingAddressSaysSo() throws Exception {
        int port = closedPort();
        UpstreamException e = fixture.failure("imaps://127.0.0.1:" + port);
        assertThat(e.kind()).isEqualTo(Kind.UNREACHABLE);
        assertThat(e.getMessage()).startsWith("cannot connect to imaps://127.0.0.1:" + port
                + ": tried the only address of 127.0.0.1 (127.0.0.1: connection refused");
    }

    @Test
    void aTlsFailureAfterTheConnectIsNotTriedOnTheNextAddress() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.selfSigned()).account(MAILBOX, TOKEN).start();
             ServerSocketChannel second = ServerSocketChannel.open()) {
            second.bind(new InetSocketAddress(SECOND_V4_LOOPBACK, up.port()));
            second.configureBlocking(false);
            localhostIs(V4_LOOPBACK, SECOND_V4_LOOPBACK);

            UpstreamException e = fixture.failure("imaps://localhost:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
            // the future completes only after the last connect: a connection to the second address would be queued
            assertThat(second.accept()).isNull();
            assertThat(debugLines()).isEmpty();
        }
    }

    @Test
    void aProtocolFailureAfterTheConnectIsNotTriedOnTheNextAddress() throws Exception {
        try (ScriptedUpstream up = ScriptedUpstream.builder(Dialect.SMTP).greeting("554 5.3.2 Service not available")
                .start();
             ServerSocketChannel second = ServerSocketChannel.open()) {
            second.bind(new InetSocketAddress(SECOND_V4_LOOPBACK, up.port()));
            second.configureBlocking(false);
            localhostIs(V4_LOOPBACK, SECOND_V4_LOOPBACK);

            UpstreamException e = fixture.failure("smtp+starttls://localhost:" + up.port());

            assertThat(e.upstreamReply()).contains("554 5.3.2 Service not available");
            assertThat(second.accept()).isNull();
        }
    }

    @Test
    void anAddressThatDropsTheConnectGetsItsShareOfTheBudgetButAtLeastThreeSecondsThenTheNextIsTried()
            throws Exception {
        fixture.timeouts(Duration.ofSeconds(4), Duration.ofSeconds(5), Duration.ofSeconds(5));
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).start();
             Blackhole hole = new Blackhole(SECOND_V4_LOOPBACK, up.port())) {
            localhostIs(SECOND_V4_LOOPBACK, V4_LOOPBACK);

            UpstreamSession s = fixture.session("imaps://localhost:" + up.port());

            assertThat(s.greeting()).isEqualTo(Office365.IMAP_GREETING);
            String line = debugLines().get(0);
            assertThat(line).contains("connecting to 127.0.0.2 failed (connect timed out").endsWith("of 2 addresses");
            // half of the 4 s budget would be 2 s, under the 3 s an attempt gets at least: 3 s (a little less: the
            // clock ran meanwhile), and the second address the rest
            Matcher m = Pattern.compile("timed out after (\\d+) ms").matcher(line);
            assertThat(m.find()).as(line).isTrue();
            assertThat(Integer.parseInt(m.group(1))).isBetween(2900, 3000);
        }
    }

    @Test
    void whenEveryAttemptTimesOutTheBudgetIsKeptAndTheOutcomeIsATimeout() throws Exception {
        fixture.timeouts(Duration.ofMillis(600), Duration.ofSeconds(5), Duration.ofSeconds(5));
        int port = closedPort();
        try (Blackhole hole = new Blackhole(SECOND_V4_LOOPBACK, port)) {
            localhostIs(SECOND_V4_LOOPBACK);
            long start = System.nanoTime();

            UpstreamException e = fixture.failure("imaps://localhost:" + port);

            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
            assertThat(e.kind()).isEqualTo(Kind.TIMED_OUT);
            assertThat(e.getMessage()).startsWith("cannot connect to imaps://localhost:" + port
                    + ": tried the only address of localhost (127.0.0.2: connect timed out");
        }
    }

    @Test
    void anUnknownHostIsUnreachable() {
        fixture.hosts(host -> {
            throw new UnknownHostException(host);
        });
        UpstreamException e = fixture.failure("imaps://outlook.office365.invalid:993");
        assertThat(e.kind()).isEqualTo(Kind.UNREACHABLE);
        assertThat(e.getMessage()).isEqualTo("unknown host outlook.office365.invalid");
        assertThat(fixture.lookups).containsExactly("outlook.office365.invalid off the event loop");
    }

    @Test
    void theCaFileAndTheHostAreReadOnTheBlockingExecutorNotOnTheCallersThread(@TempDir Path dir) throws Exception {
        List<Runnable> blocking = new CopyOnWriteArrayList<>();
        fixture.blocking(blocking::add).caFile(dir.resolve("missing-ca.pem"));

        CompletableFuture<UpstreamSession> f = fixture.connect("imaps://localhost:993");

        assertThat(f).isNotDone();
        assertThat(fixture.lookups).isEmpty();
        assertThat(blocking).hasSize(1);
        blocking.get(0).run();
        UpstreamException e = fixture.failure(f);
        assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
        assertThat(e.getMessage()).contains("missing-ca.pem");
    }

    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(V4_LOOPBACK, 0));
            return s.getLocalPort();
        }
    }

    /**
     * A listener whose accept queue is full: the kernel drops further SYNs, so a connect to it neither succeeds nor
     * is refused until the connector's own timer fires (as with a host behind a firewall that drops packets).
     */
    private static final class Blackhole implements AutoCloseable {
        private final ServerSocketChannel listener = ServerSocketChannel.open();
        private final List<Socket> fillers = new ArrayList<>();

        Blackhole(InetAddress address, int port) throws IOException {
            listener.bind(new InetSocketAddress(address, port), 1);
            for (int i = 0; i < 8; i++) {
                Socket s = new Socket();
                fillers.add(s);
                try {
                    s.connect(new InetSocketAddress(address, port), 200);
                } catch (SocketTimeoutException full) {
                    return;
                }
            }
            throw new IllegalStateException("the accept queue of " + address + ":" + port + " never filled up");
        }

        @Override
        public void close() throws IOException {
            for (Socket s : fillers) {
                s.close();
            }
            listener.close();
        }
    }
}
