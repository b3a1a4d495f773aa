package io.mailproxy.interop;

import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real Dovecot 2.3 started from a generated config under a scratch directory: IMAPS, POP3S and a submission port
 * that requires STARTTLS before AUTH (as Office 365's 587 does), all on 127.0.0.2 so that a client on 127.0.0.1 is
 * not "secured" by Dovecot's same-address rule. Users come from a passwd-file (login = email address) and from the
 * oauth2 passdb (XOAUTH2 bearer tokens checked against the {@link IdentityStub}'s introspection URL). Submission
 * relays to the {@link SmtpSink}.
 *
 * <p>Runs in the foreground ({@code dovecot -F}) as a child of the test JVM; {@link #stop()} (also at the end) and a
 * shutdown hook kill it and every process it started, so it never outlives the suite. {@link #stop()} followed by {@link #start()} keeps ports, users and mail.
 */
final class DovecotServer implements AutoCloseable {

    static final String HOST = "127.0.0.2";
    /** Dovecot listens here too, but its certificate does not name it (only TLS ports: nothing is "secured"). */
    static final String WRONG_NAME_HOST = "127.0.0.1";

    private final Path dir;
    private final Path config;
    private final Path caFile;
    private final int imapsPort;
    private final int pop3sPort;
    private final int submissionPort;
    private final Map<String, String> users;
    private final Thread hook;
    private Process process;

    private DovecotServer(Path dir, Path config, Path caFile, int imapsPort, int pop3sPort, int submissionPort,
                          Map<String, String> users) {
        this.dir = dir;
        this.config = config;
        this.caFile = caFile;
        this.imapsPort = imapsPort;
        this.pop3sPort = pop3sPort;
        this.submissionPort = submissionPort;
        this.users = users;
        this.hook = new Thread(this::kill, "dovecot-shutdown");
    }

    /** Writes certificates and config for {@code users} (email address to password) and starts Dovecot. */
    static DovecotServer start(Path scratch, Pki pki, Map<String, String> users, IdentityStub identity,
                               SmtpSink sink) throws IOException {
        Path dir = Files.createDirectories(scratch.resolve("dovecot"));
        run("chmod", "755", scratch.toString(), dir.toString());
        Path ca = dir.resolve("ca.crt");
        pki.writeCa(ca);
        Path cert = dir.resolve("server.crt");
        Path key = dir.resolve("server.key");
        // not for 127.0.0.1, where Dovecot listens too: an upstream URL naming 127.0.0.1 meets a certificate for
        // another name
        pki.issueServer("localhost", new String[] {HOST}, cert, key);
        Path mail = Files.createDirectories(dir.resolve("mail"));
        run("chown", "-R", "mail:mail", mail.toString());

        StringBuilder passwd = new StringBuilder();
        users.forEach((u, p) -> passwd.append(u).append(":{PLAIN}").append(p).append("::::::\n"));
        Files.writeString(dir.resolve("passwd"), passwd);

        Files.writeString(dir.resolve("oauth2.conf.ext"), String.join("\n",
                "introspection_mode = post",
                "introspection_url = " + identity.introspectionUrl(),
                "username_attribute = username",
                "active_attribute = active",
                "active_value = true",
                ""));

        for (int attempt = 1; ; attempt++) {
            int imaps = freePort();
            int pop3s = freePort();
            int submission = freePort();
            String d = dir.toString();
            String conf = String.join("\n",
                    "base_dir = " + d + "/run",
                    "state_dir = " + d + "/state",
                    "log_path = " + d + "/dovecot.log",
                    "protocols = imap pop3 submission",
                    "listen = " + HOST + ", " + WRONG_NAME_HOST,
                    "ssl = yes",
                    "ssl_cert = <" + cert,
                    "ssl_key = <" + key,
                    "ssl_min_protocol = TLSv1.2",
                    "disable_plaintext_auth = yes",
                    "auth_mechanisms = plain login xoauth2",
                    "auth_failure_delay = 0",
                    "first_valid_uid = 0",
                    "mail_location = maildir:" + d + "/mail/%u",
                    "mail_uid = mail",
                    "mail_gid = mail",
                    "default_internal_user = dovecot",
                    "default_login_user = dovenull",
                    "mail_max_userip_connections = 1000",
                    "hostname = localhost",
                    // process titles name the user (imap [user addr state]): TokenLifetimeIT ends the sessions of
                    // one user, as Office 365 does when their token expires
                    "verbose_proctitle = yes",
                    "passdb {",
                    "  driver = oauth2",
                    "  mechanisms = xoauth2 oauthbearer",
                    "  args = " + d + "/oauth2.conf.ext",
                    "}",
                    "passdb {",
                    "  driver = passwd-file",
                    "  args = scheme=PLAIN " + d + "/passwd",
                    "}",
                    "userdb {",
                    "  driver = static",
                    "  args = uid=mail gid=mail home=" + d + "/mail/%u",
                    "}",
                    // the per-IP auth penalty (every test client is 127.0.0.1) is off when auth cannot reach anvil
                    "service anvil {",
                    "  unix_listener anvil-auth-penalty {",
                    "    mode = 0",
                    "  }",
                    "}",
                    "service imap-login {",
                    "  inet_listener imap {",
                    "    port = 0",
                    "  }",
                    "  inet_listener imaps {",
                    "    port = " + imaps,
                    "    ssl = yes",
                    "  }",
                    "  process_limit = 1000",
                    "}",
                    "service imap {",
                    "  process_limit = 1000",
                    "}",
                    "service pop3-login {",
                    "  inet_listener pop3 {",
                    "    port = 0",
                    "  }",
                    "  inet_listener pop3s {",
                    "    port = " + pop3s,
                    "    ssl = yes",
                    "  }",
                    "}",
                    "service submission-login {",
                    "  inet_listener submission {",
                    "    port = " + submission,
                    "  }",
                    "}",
                    "namespace inbox {",
                    "  inbox = yes",
                    "  separator = /",
                    "  mailbox Trash {",
                    "    special_use = \\Trash",
                    "    auto = create",
                    "  }",
                    "  mailbox Archive {",
                    "    special_use = \\Archive",
                    "    auto = create",
                    "  }",
                    "}",
                    "submission_relay_host = 127.0.0.1",
                    "submission_relay_port = " + sink.port(),
                    "submission_relay_trusted = yes",
                    "");
            Path config = dir.resolve("dovecot.conf");
            Files.writeString(config, conf);
            DovecotServer server = new DovecotServer(dir, config, ca, imaps, pop3s, submission, Map.copyOf(users));
            Runtime.getRuntime().addShutdownHook(server.hook);
            try {
                server.start();
            } catch (IllegalStateException e) {
                Runtime.getRuntime().removeShutdownHook(server.hook);
                if (attempt < 3 && String.valueOf(e.getMessage()).contains("Address already in use")) {
                    continue; // a port was taken between picking it and Dovecot binding it: pick others
                }
                throw e;
            }
            return server;
        }
    }

    /** Starts (or restarts) Dovecot and waits until all three ports accept connections. */
    synchronized void start() throws IOException {
        if (process != null && process.isAlive()) {
            return;
        }
        process = new ProcessBuilder("dovecot", "-F", "-c", config.toString())
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("dovecot.stdout").toFile())
                .start();
        try {
            await("dovecot listening").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
                    .until(() -> {
                        if (!process.isAlive()) {
                            throw new IllegalStateException("dovecot exited: " + Files.readString(
                                    dir.resolve("dovecot.stdout")) + "\n" + logTail());
                        }
                        return accepts(imapsPort) && accepts(pop3sPort) && accepts(submissionPort);
                    });
        } catch (RuntimeException e) {
            kill();
            throw e;
        }
    }

    /**
     * Stops Dovecot abruptly, as a crashed or unreachable upstream: the master and every process it started (login,
     * imap, pop3, submission, auth) are killed, so every connection is cut mid-whatever. (A plain SIGTERM to the
     * master leaves a submission process to finish its transaction, which is not a fault.)
     */
    synchronized void stop() {
        if (process == null) {
            return;
        }
        List<ProcessHandle> children = process.descendants().toList();
        process.destroyForcibly();
        children.forEach(ProcessHandle::destroyForcibly);
        try {
            process.waitFor(15, TimeUnit.SECONDS);
            for (ProcessHandle c : children) {
                c.onExit().get(15, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("a Dovecot process survived SIGKILL", e);
        }
        await("dovecot ports closed").atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
                .until(() -> !accepts(imapsPort) && !accepts(pop3sPort) && !accepts(submissionPort));
        process = null;
    }

    /** {@code doveadm kick USER}: Dovecot ends every session of {@code user}, as a server in maintenance would. */
    Proc.Result kick(String user) throws IOException {
        return Proc.run(Duration.ofSeconds(30), List.of("doveadm", "-c", config.toString(), "kick", user));
    }

    /** The imap processes (one per session) now serving {@code user}, from their process titles. */
    List<ProcessHandle> imapSessions(String user) {
        Process p = process;
        if (p == null) {
            return List.of();
        }
        return p.descendants().filter(h -> {
            try {
                String title = Files.readString(Path.of("/proc", Long.toString(h.pid()), "cmdline"),
                        StandardCharsets.ISO_8859_1).replace('\0', ' ');
                return title.startsWith("dovecot/imap [" + user + " ");
            } catch (IOException gone) {
                return false;
            }
        }).toList();
    }

    boolean running() {
        return process != null && process.isAlive();
    }

    /** The shutdown hook: nothing of this Dovecot outlives the JVM. */
    private void kill() {
        Process p = process;
        if (p != null) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    @Override
    public void close() {
        try {
            stop();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException ignored) {
                // already shutting down: the hook runs anyway
            }
        }
    }

    int imapsPort() {
        return imapsPort;
    }

    int pop3sPort() {
        return pop3sPort;
    }

    int submissionPort() {
        return submissionPort;
    }

    Path caFile() {
        return caFile;
    }

    Path dir() {
        return dir;
    }

    String password(String user) {
        return users.get(user);
    }

    String imapsUrl() {
        return "imaps://" + HOST + ":" + imapsPort;
    }

    String pop3sUrl() {
        return "pop3s://" + HOST + ":" + pop3sPort;
    }

    String submissionUrl() {
        return "smtp+starttls://" + HOST + ":" + submissionPort;
    }

    /** The last lines of Dovecot's log, for failure messages. */
    String logTail() {
        try {
            List<String> lines = Files.readAllLines(dir.resolve("dovecot.log"), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no dovecot log: " + e + ")";
        }
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(HOST, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * A port free on both addresses Dovecot listens on: a port free on 127.0.0.2 may still be held on 127.0.0.1 (the
     * local end of some loopback connection), and Dovecot then fails to start ("Address already in use").
     */
    static int freePort() throws IOException {
        for (int attempt = 0; attempt < 100; attempt++) {
            int port;
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
                port = s.getLocalPort();
            }
            try (ServerSocket other = new ServerSocket(port, 1, InetAddress.getByName(WRONG_NAME_HOST))) {
                return port;
            } catch (IOException busyThere) {
                // try another
            }
        }
        throw new IOException("no port free on both " + HOST + " and " + WRONG_NAME_HOST);
    }

    private static void run(String... cmd) throws IOException {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException(String.join(" ", cmd) + " failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    static Map<String, String> users(String... userPasswordPairs) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < userPasswordPairs.length; i += 2) {
            m.put(userPasswordPairs[i], userPasswordPairs[i + 1]);
        }
        return m;
    }
}
