package io.mailproxy.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon as a real process: binds what the config asks, reloads on SIGHUP, says goodbye and exits 0 on SIGTERM. */
class DaemonLifecycleIT {

    private static final Duration START = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private static Map<String, String> env() {
        return Map.of("MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(new byte[32]));
    }

    private String config(int imap, int pop3, int smtp, String extraListener) {
        // The upstream is a loopback port nothing listens on, and the password secret is not stored: neither is a
        // config error (DESIGN, Commands); the daemon starts and that account is unavailable.
        return """
                mailproxy {
                  state-dir = "%s"
                  listeners = [
                    { protocol = imap, bind = "127.0.0.1", port = %d }
                    { protocol = pop3, bind = "127.0.0.1", port = %d }
                    { protocol = smtp, bind = "127.0.0.1", port = %d }
                    %s
                  ]
                  upstreams.fake {
                    imap = "imaps://127.0.0.1:9"
                    pop3 = "pop3s://127.0.0.1:9"
                    smtp = "smtp+starttls://127.0.0.1:9"
                  }
                  accounts."box@example.test" {
                    upstream = fake
                    auth { type = password, password = "secret:not-yet-stored" }
                  }
                  admin { port = 0 }
                }
                """.formatted(dir.resolve("state"), imap, pop3, smtp, extraListener);
    }

    @Test
    void runBindsItsListenersAndExitsZeroOnSigterm() throws Exception {
        int imap = freePort();
        int pop3 = freePort();
        int smtp = freePort();
        Path conf = write("mailproxy.conf", config(imap, pop3, smtp, ""));
        try (DaemonProcess p = DaemonProcess.start(dir, env(), "run", "--config", conf.toString())) {
            awaitGreeting(p, imap, "* OK");
            assertThat(greeting(pop3)).startsWith("+OK");
            assertThat(greeting(smtp)).startsWith("220 ");

            try (Socket client = new Socket("127.0.0.1", imap)) {
                BufferedReader in = reader(client);
                assertThat(in.readLine()).startsWith("* OK");
                p.terminate();
                // the client is told in its own protocol before the connection closes
                assertThat(in.readLine()).startsWith("* BYE").contains("UNAVAILABLE");
            }
            assertThat(p.waitFor(Duration.ofSeconds(20))).as(p.output()).isZero();
        }
    }

    @Test
    void sighupReloadsWithoutDroppingSessionsAndRefusesABadConfig() throws Exception {
        int imap = freePort();
        int pop3 = freePort();
        int smtp = freePort();
        int extra = freePort();
        Path conf = write("mailproxy.conf", config(imap, pop3, smtp, ""));
        try (DaemonProcess p = DaemonProcess.start(dir, env(), "run", "--config", conf.toString())) {
            awaitGreeting(p, imap, "* OK");
            try (Socket session = new Socket("127.0.0.1", imap)) {
                BufferedReader in = reader(session);
                OutputStream out = session.getOutputStream();
                assertThat(in.readLine()).startsWith("* OK");

                write("mailproxy.conf", config(imap, pop3, smtp,
                        "{ protocol = imap, bind = \"127.0.0.1\", port = " + extra + " }"));
                p.hangUp();
                await().atMost(START).ignoreExceptions().untilAsserted(() -> assertThat(greeting(extra)).startsWith("* OK"));

                out.write("a1 NOOP\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                String line = in.readLine();
                while (line != null && line.startsWith("* ")) {
                    line = in.readLine();
                }
                assertThat(line).as("the session opened before the reload still works").startsWith("a1 OK");

                // A broken config on SIGHUP is refused; the daemon keeps running with the old one.
                write("mailproxy.conf", "mailproxy { listeners = 42 }");
                p.hangUp();
                await().atMost(START).untilAsserted(() -> assertThat(p.output()).contains("reload refused"));
                assertThat(greeting(imap)).startsWith("* OK");
                assertThat(greeting(extra)).startsWith("* OK");
            }
        }
    }

    @Test
    void aBrokenConfigExitsTwoNamingFileLineAndKey() throws Exception {
        Path conf = write("broken.conf", """
                mailproxy {
                  state-dir = "%s"
                  listners = []
                }
                """.formatted(dir.resolve("state")));
        try (DaemonProcess p = DaemonProcess.start(dir, env(), "run", "--config", conf.toString())) {
            assertThat(p.waitFor(START)).as(p.output()).isEqualTo(2);
            assertThat(p.output()).contains("broken.conf").contains(":3").contains("listners");
        }
    }

    private void awaitGreeting(DaemonProcess p, int port, String prefix) {
        await().atMost(START).pollInterval(Duration.ofMillis(200)).ignoreExceptions().untilAsserted(() -> {
            assertThat(p.isAlive()).as(p.output()).isTrue();
            assertThat(greeting(port)).startsWith(prefix);
        });
    }

    private static String greeting(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
            s.setSoTimeout(5000);
            String line = reader(s).readLine();
            return line == null ? "" : line;
        }
    }

    private static BufferedReader reader(Socket s) throws IOException {
        s.setSoTimeout(10_000);
        return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.ISO_8859_1));
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
