package io.mailproxy.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainDatagramPacket;
import io.netty.channel.unix.DomainSocketAddress;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The daemon as systemd runs it: notifications on $NOTIFY_SOCKET around start, reload and stop; the admin endpoint;
 * {@code mailproxy status} through the control socket, and its exit code when no daemon runs.
 */
class OperationsIT {

    private static final Duration START = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void notifiesSystemdServesAdminEndpointsAndAnswersStatus() throws Exception {
        assumeTrue(Epoll.isAvailable(), "native epoll is not available here");
        // The IMAP session part needs the imap frontend on the class path; without it the daemon runs no listener.
        boolean imapFrontend = java.util.ServiceLoader.load(io.mailproxy.core.spi.FrontendFactory.class).stream()
                .anyMatch(f -> f.get().protocol() == io.mailproxy.core.Protocol.IMAP);
        int imap = freePort();
        int admin = freePort();
        String listeners = imapFrontend ? "{ protocol = imap, bind = \"127.0.0.1\", port = " + imap + " }" : "";
        String serving = "READY=1\nSTATUS=serving " + (imapFrontend ? 1 : 0) + " listener(s)";
        Path state = dir.resolve("state");
        Path conf = Files.writeString(dir.resolve("mailproxy.conf"), """
                mailproxy {
                  state-dir = "%s"
                  listeners = [ %s ]
                  upstreams.fake { imap = "imaps://127.0.0.1:9", smtp = "smtp+starttls://127.0.0.1:9" }
                  accounts."box@example.test" {
                    upstream = fake
                    auth { type = password, password = "secret:not-yet-stored" }
                  }
                  admin { bind = "127.0.0.1", port = %d }
                }
                """.formatted(state, listeners, admin));
        Map<String, String> env = Map.of("MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(new byte[32]),
                "NOTIFY_SOCKET", dir.resolve("notify").toString());

        BlockingQueue<String> notes = new LinkedBlockingQueue<>();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        Channel receiver = new Bootstrap().group(group).channel(EpollDomainDatagramChannel.class)
                .handler(new SimpleChannelInboundHandler<DomainDatagramPacket>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, DomainDatagramPacket packet) {
                        notes.add(packet.content().toString(StandardCharsets.UTF_8));
                    }
                })
                .bind(new DomainSocketAddress(dir.resolve("notify").toString())).syncUninterruptibly().channel();
        try (DaemonProcess p = DaemonProcess.start(dir, env, "run", "--config", conf.toString())) {
            assertThat(next(notes, p)).isEqualTo(serving);
            Socket session = imapFrontend ? new Socket("127.0.0.1", imap) : null;
            try {
                if (session != null) {
                    session.setSoTimeout(10_000);
                    assertThat(new BufferedReader(new InputStreamReader(session.getInputStream(),
                            StandardCharsets.ISO_8859_1)).readLine()).startsWith("* OK");
                }
                int open = imapFrontend ? 1 : 0;

                // The account's password secret is not stored: not a config error, but /health names it (the
                // credentials are tried at start-up, so the answer turns 503 at once or shortly after).
                HttpClient http = HttpClient.newHttpClient();
                String reason = "the password secret 'not-yet-stored' is not stored; run ./mailproxy secret set"
                        + " not-yet-stored";
                await().atMost(START).untilAsserted(() -> {
                    HttpResponse<String> health = http.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + admin + "/health")).build(),
                            HttpResponse.BodyHandlers.ofString());
                    assertThat(health.statusCode()).as(health.body()).isEqualTo(503);
                    assertThat(health.body()).startsWith("{\"status\":\"DOWN\"").contains("\"listeners\":\"UP\"")
                            .contains("\"problems\":[\"account box@example.test: " + reason + "\"]");
                });
                HttpResponse<String> metrics = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + admin + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(metrics.body()).contains("mailproxy_sessions_open " + open + ".0")
                        .contains("mailproxy_account_up{account=\"box@example.test\"} 0.0");

                try (DaemonProcess status = DaemonProcess.start(dir, Map.of(), "status", "--config",
                        conf.toString())) {
                    assertThat(status.waitFor(START)).as(status.output()).isZero();
                    assertThat(status.output()).contains("sessions: " + open + " open, " + open + " not logged in")
                            .containsPattern("box@example.test +password +NO +- +- +" + java.util.regex.Pattern.quote(reason));
                    if (imapFrontend) {
                        assertThat(status.output()).containsPattern("imap-\\w+ +imap +- +- +127\\.0\\.0\\.1:\\d+ ");
                    } else {
                        assertThat(status.output()).contains("(no sessions open)");
                    }
                }
            } finally {
                if (session != null) {
                    session.close();
                }
            }

            p.hangUp();
            assertThat(next(notes, p)).startsWith("RELOADING=1\nMONOTONIC_USEC=");
            assertThat(next(notes, p)).isEqualTo(serving);

            p.terminate();
            assertThat(next(notes, p)).isEqualTo("STOPPING=1\nSTATUS=shutting down");
            assertThat(p.waitFor(Duration.ofSeconds(20))).as(p.output()).isZero();
            if (imapFrontend) {
                assertThat(p.output()).containsPattern("session end: protocol=imap client=- account=- from="
                        + "127\\.0\\.0\\.1:\\d+ in=0 out=\\d+ duration=\\d+\\.\\ds outcome=");
            }
        } finally {
            receiver.close().syncUninterruptibly();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }

        try (DaemonProcess status = DaemonProcess.start(dir, Map.of(), "status", "--config", conf.toString())) {
            assertThat(status.waitFor(START)).as(status.output()).isEqualTo(1);
            assertThat(status.output()).contains("mailproxy status: no mailproxy daemon is running with state-dir "
                    + state);
        }
    }

    private static String next(BlockingQueue<String> notes, DaemonProcess p) throws InterruptedException {
        String note = notes.poll(START.toSeconds(), TimeUnit.SECONDS);
        assertThat(note).as("a notification; daemon output:\n%s", p.output()).isNotNull();
        return note;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
