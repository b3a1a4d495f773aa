package io.mailproxy.core.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AdminConfig;
import io.mailproxy.core.runtime.SessionInfo;
import io.mailproxy.core.runtime.Transport;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class AdminServerTest {

    private static final Instant NOW = Instant.parse("2026-11-25T21:30:00Z");
    private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

    private final PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final AtomicBoolean listenersUp = new AtomicBoolean(true);
    private final AtomicReference<List<AccountHealth>> accounts = new AtomicReference<>(List.of(
            AccountHealth.ok("reports@contoso.com"), AccountHealth.ok("scans@contoso.com")));
    private final AtomicReference<StatusReport> status = new AtomicReference<>(report());
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final List<AdminServer> servers = new ArrayList<>();

    @AfterEach
    void stop() {
        servers.forEach(AdminServer::close);
        metrics.close();
    }

    private AdminServer start() {
        return start(new AdminConfig(true, "127.0.0.1", 0), () -> status.get());
    }

    private AdminServer start(AdminConfig config, StatusSource source) {
        AdminServer server = AdminServer.start(config, Transport.nio(), metrics,
                HealthSource.of(listenersUp::get, accounts::get), source, CLOCK).orElseThrow();
        servers.add(server);
        return server;
    }

    private HttpResponse<String> get(AdminServer server, String path) throws Exception {
        return send(server, HttpRequest.newBuilder(uri(server, path)).GET());
    }

    private HttpResponse<String> send(AdminServer server, HttpRequest.Builder request) throws Exception {
        return http.send(request.timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static URI uri(AdminServer server, String path) {
        return URI.create("http://127.0.0.1:" + server.address().getPort() + path);
    }

    private static StatusReport report() {
        return new StatusReport(NOW, NOW.minusSeconds(3600), "0.1.0",
                1, 0,
                List.of(new SessionInfo("imap-1", Protocol.IMAP, "127.0.0.1:50000", Optional.of("scanner"),
                        Optional.of("reports@contoso.com"), NOW.minusSeconds(12), 123, 4567)),
                List.of(new StatusReport.Pool("reports@contoso.com", "imap", 1, 2, 0, 0, 8,
                        Optional.of(Duration.ofMinutes(42)), Optional.empty())),
                List.of(new StatusReport.Account("reports@contoso.com", "oauth2", true, Optional.empty(),
                                Optional.of(NOW.minusSeconds(60)), Optional.empty(),
                                Optional.of(NOW.plusSeconds(3000))),
                        new StatusReport.Account("scans@contoso.com", "oauth2", false,
                                Optional.of("refresh token expired: run ./mailproxy login scans@contoso.com"),
                                Optional.empty(), Optional.of(NOW.minusSeconds(5)), Optional.empty())));
    }

    @Test
    void metricsServesThePrometheusTextOfTheRegistry() throws Exception {
        Counter.builder("mailproxy.logins").tag("result", "ok").register(metrics).increment(3);
        AdminServer server = start();

        HttpResponse<String> r = get(server, "/metrics");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).contains("text/plain; version=0.0.4; charset=utf-8");
        assertThat(r.headers().firstValue("connection")).contains("close");
        assertThat(r.body()).contains("# TYPE mailproxy_logins_total counter")
                .contains("mailproxy_logins_total{result=\"ok\"} 3.0");
    }

    @Test
    void healthIsUpWhenListenersAreUpAndEveryAccountSucceeded() throws Exception {
        AdminServer server = start();

        HttpResponse<String> r = get(server, "/health");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).contains("application/json; charset=utf-8");
        assertThat(r.body()).isEqualTo("{\"status\":\"UP\",\"time\":\"2026-11-25T21:30:00Z\",\"listeners\":\"UP\","
                + "\"accounts\":[{\"account\":\"reports@contoso.com\",\"ok\":true,\"reason\":\"\"},"
                + "{\"account\":\"scans@contoso.com\",\"ok\":true,\"reason\":\"\"}],\"problems\":[]}\n");
    }

    @Test
    void healthIs503NamingEachFailingAccountAndItsReason() throws Exception {
        accounts.set(List.of(AccountHealth.ok("reports@contoso.com"),
                AccountHealth.failing("scans@contoso.com", "refresh token rejected (AADSTS700082): run "
                        + "./mailproxy login scans@contoso.com"),
                AccountHealth.failing("shared@contoso.com", "upstream \"down\": connection refused")));
        AdminServer server = start();

        HttpResponse<String> r = get(server, "/health");

        assertThat(r.statusCode()).isEqualTo(503);
        @SuppressWarnings("unchecked")
        Map<String, Object> body = (Map<String, Object>) Json.parse(r.body());
        assertThat(body.get("status")).isEqualTo("DOWN");
        assertThat(body.get("listeners")).isEqualTo("UP");
        assertThat(body.get("problems")).isEqualTo(List.of(
                "account scans@contoso.com: refresh token rejected (AADSTS700082): run ./mailproxy login"
                        + " scans@contoso.com",
                "account shared@contoso.com: upstream \"down\": connection refused"));
        assertThat(r.body()).contains("\"reason\":\"upstream \\\"down\\\": connection refused\"");
    }

    @Test
    void healthIs503WhenAListenerIsDownAndUpAgainWhenItRecovers() throws Exception {
        listenersUp.set(false);
        AdminServer server = start();

        HttpResponse<String> down = get(server, "/health");
        listenersUp.set(true);
        HttpResponse<String> up = get(server, "/health");

        assertThat(down.statusCode()).isEqualTo(503);
        assertThat(down.body()).contains("\"listeners\":\"DOWN\"")
                .contains("\"problems\":[\"listeners: not every configured listener is accepting connections\"]");
        assertThat(up.statusCode()).isEqualTo(200);
    }

    @Test
    void statusServesTheReportAsJson() throws Exception {
        AdminServer server = start();

        HttpResponse<String> r = get(server, "/status?pretty");

        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).contains("application/json; charset=utf-8");
        assertThat(r.body()).isEqualTo(Json.write(report()) + "\n");
        @SuppressWarnings("unchecked")
        Map<String, Object> body = (Map<String, Object>) Json.parse(r.body());
        assertThat(body.get("sessionsOpen")).isEqualTo(new BigDecimal(1));
        @SuppressWarnings("unchecked")
        Map<String, Object> pool = (Map<String, Object>) ((List<Object>) body.get("pools")).get(0);
        assertThat(pool).containsEntry("account", "reports@contoso.com").containsEntry("protocol", "imap")
                .containsEntry("active", new BigDecimal(1)).containsEntry("idle", new BigDecimal(2))
                .containsEntry("max", new BigDecimal(8)).containsEntry("minTokenLifeLeft", new BigDecimal(2520))
                .containsEntry("throttledUntil", null);
        assertThat(r.body()).contains("\"sessions\":[{\"id\":\"imap-1\",\"protocol\":\"imap\","
                + "\"remote\":\"127.0.0.1:50000\",\"client\":\"scanner\",\"account\":\"reports@contoso.com\","
                + "\"opened\":\"2026-11-25T21:29:48Z\",\"bytesIn\":123,\"bytesOut\":4567}]");
    }

    @Test
    void aFailingSourceIsA500WithoutItsMessage() throws Exception {
        AdminServer server = start(new AdminConfig(true, "127.0.0.1", 0), () -> {
            throw new IllegalStateException("secret-ish internals");
        });

        HttpResponse<String> r = get(server, "/status");

        assertThat(r.statusCode()).isEqualTo(500);
        assertThat(r.body()).isEqualTo("internal error; see the daemon's log\n");
    }

    @Test
    void onlyGetIsAllowedAndUnknownPathsAre404() throws Exception {
        AdminServer server = start();

        HttpResponse<String> post = send(server, HttpRequest.newBuilder(uri(server, "/metrics"))
                .POST(HttpRequest.BodyPublishers.ofString("x=1")));
        HttpResponse<String> delete = send(server, HttpRequest.newBuilder(uri(server, "/status")).DELETE());
        HttpResponse<String> missing = get(server, "/admin");
        HttpResponse<String> prefix = get(server, "/metrics/x");

        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("allow")).contains("GET");
        assertThat(delete.statusCode()).isEqualTo(405);
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.body()).isEqualTo("not found; try /metrics, /health or /status\n");
        assertThat(prefix.statusCode()).isEqualTo(404);
    }

    @Test
    void answersOneRequestPerConnectionAndIgnoresWhatIsPipelinedAfterIt() throws Exception {
        AdminServer server = start();

        String answer = raw(server, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\n\r\n");

        assertThat(answer).startsWith("HTTP/1.1 200 OK\r\n").contains("connection: close\r\n");
        assertThat(answer.split("HTTP/1.1 ", -1)).hasSize(2);
        assertThat(answer).doesNotContain("sessionsOpen");
    }

    @Test
    void aRequestForAnotherHostNameIsRefusedAgainstDnsRebinding() throws Exception {
        AdminServer server = start();

        String rebound = raw(server, "GET /status HTTP/1.1\r\nHost: attacker.example:9143\r\n\r\n");
        String local = raw(server, "GET /health HTTP/1.1\r\nHost: localhost:9143\r\n\r\n");
        String v6 = raw(server, "GET /health HTTP/1.1\r\nHost: [::1]:9143\r\n\r\n");

        assertThat(rebound).startsWith("HTTP/1.1 421 Misdirected Request\r\n").doesNotContain("sessionsOpen");
        assertThat(local).startsWith("HTTP/1.1 200 OK\r\n");
        assertThat(v6).startsWith("HTTP/1.1 200 OK\r\n");
    }

    @Test
    void anOversizedRequestHeadIsRefused() throws Exception {
        AdminServer server = start();

        String longLine = raw(server, "GET /" + "a".repeat(AdminServer.MAX_INITIAL_LINE) + " HTTP/1.1\r\n\r\n");
        String bigHeaders = raw(server, "GET /health HTTP/1.1\r\nX-Big: " + "b".repeat(AdminServer.MAX_HEADER_SIZE)
                + "\r\n\r\n");

        assertThat(longLine).startsWith("HTTP/1.1 414 Request-URI Too Long\r\n");
        assertThat(bigHeaders).startsWith("HTTP/1.1 431 Request Header Fields Too Large\r\n");
    }

    @Test
    void disabledMeansNothingIsBound() {
        Optional<AdminServer> none = AdminServer.start(new AdminConfig(false, "127.0.0.1", 0), Transport.nio(),
                metrics, HealthSource.of(() -> true, List::of), () -> status.get(), CLOCK);

        assertThat(none).isEmpty();
    }

    @Test
    void aPortInUseIsAnErrorNamingTheAddress() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            assertThatThrownBy(() -> start(new AdminConfig(true, "127.0.0.1", port), () -> status.get()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("admin endpoint: cannot listen on 127.0.0.1:" + port + ": ");
        }
    }

    @Test
    void monitoringGetsAnAnswerWhileTheConnectionCapIsTakenByDrippingClients() throws Exception {
        AdminServer server = start();
        List<Socket> drips = new ArrayList<>();
        ScheduledExecutorService dripper = Executors.newSingleThreadScheduledExecutor();
        try {
            for (int i = 0; i < AdminServer.MAX_CONNECTIONS; i++) {
                drips.add(dripping(server, dripper));
            }

            long start = System.nanoTime();
            HttpResponse<String> health = get(server, "/health");
            Duration took = Duration.ofNanos(System.nanoTime() - start);

            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(took).isLessThan(Duration.ofSeconds(3));
            // the oldest connection without a complete request made room, and was told why
            assertThat(readUntilClosed(drips.get(0))).startsWith("HTTP/1.1 408 Request Timeout\r\n")
                    .contains("connection: close\r\n");
        } finally {
            dripper.shutdownNow();
            for (Socket s : drips) {
                s.close();
            }
        }
    }

    @Test
    void aDrippingConnectionIsClosedAtItsDeadlineWith408() throws Exception {
        Duration deadline = Duration.ofMillis(800);
        AdminServer server = start(config(deadline), () -> status.get());
        ScheduledExecutorService dripper = Executors.newSingleThreadScheduledExecutor();
        long start = System.nanoTime();
        try (Socket drip = dripping(server, dripper)) {
            String answer = readUntilClosed(drip);
            Duration took = Duration.ofNanos(System.nanoTime() - start);

            assertThat(answer).startsWith("HTTP/1.1 408 Request Timeout\r\n").contains("connection: close\r\n");
            assertThat(took).isGreaterThanOrEqualTo(deadline.minusMillis(100)).isLessThan(Duration.ofSeconds(4));
        } finally {
            dripper.shutdownNow();
        }
    }

    private static AdminConfig config(Duration requestDeadline) {
        return new AdminConfig(true, "127.0.0.1", 0, requestDeadline);
    }

    /** A connection that starts a request and then sends one more header byte every 50 ms, never finishing it. */
    private static Socket dripping(AdminServer server, ScheduledExecutorService dripper) throws IOException {
        Socket socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()), 5000);
        socket.setSoTimeout(5000);
        OutputStream out = socket.getOutputStream();
        out.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: ".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        dripper.scheduleWithFixedDelay(() -> {
            try {
                out.write('a');
                out.flush();
            } catch (IOException closed) {
                throw new java.io.UncheckedIOException(closed); // stops this drip
            }
        }, 50, 50, TimeUnit.MILLISECONDS);
        return socket;
    }

    /** Reads until the server closes the connection; a reset after its answer (a drip crossing the close) ends it. */
    private static String readUntilClosed(Socket socket) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        InputStream in = socket.getInputStream();
        try {
            for (int n; (n = in.read(buf)) >= 0; ) {
                out.write(buf, 0, n);
            }
        } catch (java.net.SocketTimeoutException stillOpen) {
            throw stillOpen;
        } catch (java.net.SocketException reset) {
            if (out.size() == 0) {
                throw reset;
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Sends bytes as they are and reads until the server closes. */
    private static String raw(AdminServer server, String request) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", server.address().getPort()), 5000);
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toString(StandardCharsets.UTF_8);
        }
    }
}
