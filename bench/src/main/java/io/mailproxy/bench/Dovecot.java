package io.mailproxy.bench;

import io.mailproxy.core.tls.ServerTls;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Dovecot 2.3 as the upstream, in its own process ({@code dovecot -F}), from a configuration generated in a
 * scratch directory after docs in /work/brief/DOVECOT.md: IMAPS, POP3S and submission (STARTTLS) on 127.0.0.2,
 * XOAUTH2 through the bench's introspection endpoint, and the connection limits raised for thousands of sessions.
 */
final class Dovecot implements AutoCloseable {

    static final String HOST = "127.0.0.2";

    final Path dir;
    final Path certFile;
    final int imaps;
    final int pop3s;
    final int submission;
    private final Path conf;
    private Process process;

    Dovecot(Path dir, String introspectionUrl, int relayPort) throws IOException {
        this.dir = dir;
        ServerTls.SelfSigned cert = ServerTls.selfSigned(dir.resolve("tls"), "localhost", HOST, "127.0.0.1");
        this.certFile = cert.certFile();
        this.imaps = freePort();
        this.pop3s = freePort();
        this.submission = freePort();
        for (String d : List.of("run", "state", "mail")) {
            Files.createDirectories(dir.resolve(d));
        }
        Files.writeString(dir.resolve("oauth2.conf.ext"), String.join("\n",
                "introspection_mode = post",
                "introspection_url = " + introspectionUrl,
                "username_attribute = username",
                "active_attribute = active",
                "active_value = true",
                "max_parallel_connections = 32",
                ""));
        Files.writeString(dir.resolve("passwd"), "");
        this.conf = dir.resolve("dovecot.conf");
        Files.writeString(conf, config(relayPort), StandardCharsets.UTF_8);
    }

    private String config(int relayPort) {
        String d = dir.toString();
        return """
                base_dir = %1$s/run
                state_dir = %1$s/state
                log_path = %1$s/dovecot.log
                protocols = imap pop3 submission
                listen = %2$s
                ssl = yes
                ssl_cert = <%3$s
                ssl_key = <%4$s
                ssl_min_protocol = TLSv1.2
                disable_plaintext_auth = yes
                auth_mechanisms = plain login xoauth2
                first_valid_uid = 0
                mail_location = maildir:%1$s/mail/%%u
                mail_uid = mail
                mail_gid = mail
                default_internal_user = dovecot
                default_login_user = dovenull
                auth_failure_delay = 0
                hostname = localhost
                # raised limits: 2,000 concurrent sessions from one user/address pair and one client address
                mail_max_userip_connections = 10000
                default_process_limit = 4000
                default_client_limit = 10000
                default_vsz_limit = 0
                passdb {
                  driver = oauth2
                  mechanisms = xoauth2 oauthbearer
                  args = %1$s/oauth2.conf.ext
                }
                passdb {
                  driver = passwd-file
                  args = scheme=PLAIN %1$s/passwd
                }
                userdb {
                  driver = static
                  args = uid=mail gid=mail home=%1$s/mail/%%u
                }
                service imap-login {
                  inet_listener imap {
                    port = 0
                  }
                  inet_listener imaps {
                    port = %5$d
                    ssl = yes
                  }
                  # one long-lived login process per core serves many TLS connections (no 100-process cap)
                  service_count = 0
                  process_min_avail = 2
                  process_limit = 8
                  client_limit = 10000
                }
                service pop3-login {
                  inet_listener pop3 {
                    port = 0
                  }
                  inet_listener pop3s {
                    port = %6$d
                    ssl = yes
                  }
                  service_count = 0
                  process_min_avail = 1
                  client_limit = 10000
                }
                service submission-login {
                  inet_listener submission {
                    port = %7$d
                  }
                  service_count = 0
                  process_min_avail = 1
                  client_limit = 10000
                }
                service imap {
                  process_limit = 4000
                }
                service anvil {
                  client_limit = 20000
                }
                service auth {
                  client_limit = 20000
                }
                submission_relay_host = 127.0.0.1
                submission_relay_port = %8$d
                submission_relay_trusted = yes
                """.formatted(d, HOST, certFile, dir.resolve("tls/tls.key"), imaps, pop3s, submission, relayPort);
    }

    /** Writes {@code count} messages of exactly {@code size} octets into the user's INBOX (Maildir cur/). */
    void addMessages(String user, int count, int size) throws IOException {
        Path box = dir.resolve("mail").resolve(user);
        for (String sub : List.of("cur", "new", "tmp")) {
            Files.createDirectories(box.resolve(sub));
        }
        for (int i = 1; i <= count; i++) {
            byte[] msg = Messages.message(user, i, size);
            Files.write(box.resolve("cur").resolve((1_700_000_000L + i) + ".M" + i + "P1.bench,S=" + size + ":2,"), msg);
        }
    }

    void start() throws IOException, InterruptedException {
        // the scratch tree must be reachable by the mail and dovenull users
        run("chmod", "-R", "a+rX", dir.toString());
        run("chmod", "0600", dir.resolve("tls/tls.key").toString());
        run("chown", "-R", "mail:mail", dir.resolve("mail").toString());
        process = new ProcessBuilder("sh", "-c", "ulimit -n 20000 2>/dev/null; exec dovecot -F -c " + conf)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("dovecot.out").toFile())
                .start();
        Runtime.getRuntime().addShutdownHook(new Thread(this::close));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(HOST, imaps), 500);
                return;
            } catch (IOException e) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new IOException("dovecot did not start: " + Files.readString(dir.resolve("dovecot.out"))
                            + (Files.exists(dir.resolve("dovecot.log")) ? Files.readString(dir.resolve("dovecot.log")) : ""));
                }
                Thread.sleep(100);
            }
        }
    }

    /** Number of Dovecot processes (master, login, imap, auth, ...), for the record. */
    long processCount() throws IOException {
        try (var s = Files.list(Path.of("/proc"))) {
            return s.filter(p -> p.getFileName().toString().matches("\\d+")).filter(p -> {
                try {
                    String cmd = Files.readString(p.resolve("cmdline")).replace('\0', ' ');
                    return cmd.startsWith("dovecot/") || cmd.contains(conf.toString());
                } catch (IOException e) {
                    return false;
                }
            }).count();
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return s.getLocalPort();
        }
    }

    static void run(String... cmd) throws IOException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    @Override
    public synchronized void close() {
        if (process == null) {
            return;
        }
        try {
            new ProcessBuilder("dovecot", "-c", conf.toString(), "stop").start().waitFor(10, TimeUnit.SECONDS);
            if (!process.waitFor(15, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (IOException | InterruptedException e) {
            process.destroyForcibly();
        }
        process = null;
    }
}
