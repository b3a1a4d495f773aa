package io.mailproxy.bench;

import io.mailproxy.core.identity.PasswordHasher;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Issue 17, {@code ha-kill}: two daemons (mp-a, mp-b: each its own configuration and state directory, both relaying
 * to the one Dovecot) behind Debian's HAProxy ({@code send-proxy-v2}, {@code balance leastconn}, TCP checks), SMTP
 * submitters (pass-through and {@code queue = true}) and IMAP fetch sessions through HAProxy; mp-a is killed with
 * SIGKILL in the middle. Counted at the end: messages answered 250, messages that reached the relay sink behind
 * Dovecot, 250'd but missing (before and after mp-a is restarted on its state directory, whose spool it then
 * delivers), duplicates and which window each falls in, IMAP reconnects, and how long clients saw errors.
 * Everything on loopback; the run stops by itself.
 */
final class HaKillBench {

    static final String HAPROXY_HOST = "127.0.0.3";
    static final int DURATION_S = 30;
    static final int KILL_AT_S = 12;
    static final int PASS_THROUGH_CLIENTS = 4;
    static final int QUEUE_CLIENTS = 2;
    static final int IMAP_CLIENTS = 3;
    private static final Pattern DEPTH = Pattern.compile("\"queue\":\\{\"depth\":(\\d+)");

    private HaKillBench() {
    }

    /** One run's figures. */
    record Result(int acked, int ackedBeforeKill, int ackedByA, int ackedQueued, int arrived, int missingBeforeRestart,
                  int missingAfterRestart, int duplicates, int dupUnansweredDot, int dupSpoolWindow,
                  int dupUnexplained, int arrivedNot250d, long imapSessions, long imapFetches, long imapFailures,
                  long imapRecoveries, long imapUnrecovered, long smtpFailures, long smtpRecoveries,
                  long smtpUnrecovered, long smtpTemp, double longestErrorS, double clientErrorS) {
    }

    static void run(Env env, Report report, Path jar, int runs) throws Exception {
        env.sink.messageIds = new ConcurrentHashMap<>();
        List<Result> results = new ArrayList<>();
        for (int r = 1; r <= runs; r++) {
            Result res = once(env, jar, "r" + r + "-" + Long.toString(System.currentTimeMillis(), 36));
            System.err.println("ha-kill run " + r + ": " + res);
            results.add(res);
        }
        report.line("### Two instances behind HAProxy, one killed with SIGKILL (issue 17)")
                .line("")
                .line("Each run: two daemons (own config and state directory each, both relaying to the one Dovecot), "
                        + "HAProxy in front (`send-proxy-v2`, `balance leastconn`, TCP checks every 500 ms, "
                        + "`option redispatch`); %d pass-through and %d `queue = true` SMTP clients (4 KiB messages, "
                        + "unique Message-IDs, a message not answered 250 sent again on a new connection) and %d IMAP "
                        + "clients (sessions of %d partial FETCHes of 64 KiB), each pausing %d ms between "
                        + "operations, for %d s; mp-a's queue paced at Office 365's 30 messages a minute per account "
                        + "(mp-b's not paced), so mp-a's spool holds a backlog; mp-a killed with SIGKILL at %d s; "
                        + "then mp-b's queue drained, counted, mp-a restarted on its state directory, its spool "
                        + "drained, counted again.",
                        PASS_THROUGH_CLIENTS, QUEUE_CLIENTS, IMAP_CLIENTS, HaLoad.FETCHES_PER_SESSION,
                        HaLoad.THINK_MS, DURATION_S, KILL_AT_S)
                .line("")
                .line("| run | 250'd (before the kill; by mp-a; queued) | arrived "
                        + "| 250'd, missing before / after mp-a's restart "
                        + "| duplicates: after an unanswered dot / spool window / other | arrived, never 250'd "
                        + "| IMAP sessions, fetches | IMAP errors, reconnects OK, not recovered | SMTP errors, "
                        + "recovered, 4xx | longest error interval, client-seconds in error |")
                .line("|---|---|---|---|---|---|---|---|---|---|");
        for (int i = 0; i < results.size(); i++) {
            Result x = results.get(i);
            report.line("| %d | %d (%d; %d; %d) | %d | %d / **%d** | %d: %d / %d / **%d** | %d | %d, %d | %d, %d, %d "
                            + "| %d, %d, %d | %.1f s, %.1f s |", i + 1, x.acked, x.ackedBeforeKill, x.ackedByA,
                    x.ackedQueued, x.arrived, x.missingBeforeRestart, x.missingAfterRestart, x.duplicates,
                    x.dupUnansweredDot, x.dupSpoolWindow, x.dupUnexplained, x.arrivedNot250d, x.imapSessions, x.imapFetches,
                    x.imapFailures, x.imapRecoveries, x.imapUnrecovered, x.smtpFailures, x.smtpRecoveries,
                    x.smtpTemp, x.longestErrorS, x.clientErrorS);
        }
        report.line("");
        report.flush();
    }

    private static Result once(Env env, Path jar, String run) throws Exception {
        Path dir = Files.createDirectories(env.scratch.resolve("ha-kill-" + run));
        int[] a = {DaemonProcess.freePort(), DaemonProcess.freePort(), DaemonProcess.freePort()};
        int[] b = {DaemonProcess.freePort(), DaemonProcess.freePort(), DaemonProcess.freePort()};
        Path confA = dir.resolve("mp-a.conf");
        Path confB = dir.resolve("mp-b.conf");
        Files.writeString(confA, config(env, "mp-a", dir.resolve("state-a"), a, 30));
        Files.writeString(confB, config(env, "mp-b", dir.resolve("state-b"), b, 100_000));
        DaemonProcess mpA = DaemonProcess.start(jar, confA, dir.resolve("mp-a.log"), a[0], a[1]);
        DaemonProcess mpB = null;
        DaemonProcess mpA2 = null;
        Process haproxy = null;
        try {
            mpB = DaemonProcess.start(jar, confB, dir.resolve("mp-b.log"), b[0], b[1]);
            int imapFront = freePort(HAPROXY_HOST);
            int smtpFront = freePort(HAPROXY_HOST);
            haproxy = haproxy(dir, imapFront, smtpFront, a, b);
            HaLoad load = new HaLoad(run, new InetSocketAddress(HAPROXY_HOST, smtpFront),
                    new InetSocketAddress(HAPROXY_HOST, imapFront));
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < PASS_THROUGH_CLIENTS; i++) {
                String client = Env.client(2 + i);
                clients.add(new Thread(() -> load.smtpClient(client, false), "smtp-" + client));
            }
            for (int i = 0; i < QUEUE_CLIENTS; i++) {
                String client = Env.client(2 + PASS_THROUGH_CLIENTS + i) + "q";
                clients.add(new Thread(() -> load.smtpClient(client, true), "smtp-" + client));
            }
            for (int i = 0; i < IMAP_CLIENTS; i++) {
                clients.add(new Thread(() -> load.imapClient(Env.client(1), Env.MESSAGES), "imap-" + i));
            }
            clients.forEach(Thread::start);
            Thread.sleep(TimeUnit.SECONDS.toMillis(KILL_AT_S));
            mpA.kill();
            long killedAt = System.nanoTime();
            System.err.println("ha-kill " + run + ": mp-a killed (SIGKILL)");
            Thread.sleep(TimeUnit.SECONDS.toMillis(DURATION_S - KILL_AT_S));
            load.stop.set(true);
            for (Thread t : clients) {
                t.join(TimeUnit.SECONDS.toMillis(150));
            }
            drain(env, b[2], run);
            Map<String, Integer> before = arrivals(env, run);
            int missingBefore = (int) load.acked.keySet().stream().filter(id -> !before.containsKey(id)).count();
            mpA2 = DaemonProcess.start(jar, confA, dir.resolve("mp-a-restarted.log"), a[0], a[1]);
            drain(env, a[2], run);
            Map<String, Integer> after = arrivals(env, run);
            return result(load, after, missingBefore, killedAt);
        } finally {
            if (haproxy != null) {
                haproxy.destroy();
                haproxy.waitFor(10, TimeUnit.SECONDS);
            }
            for (DaemonProcess d : new DaemonProcess[] {mpA2, mpB, mpA}) {
                if (d != null) {
                    d.close();
                }
            }
        }
    }

    private static Result result(HaLoad load, Map<String, Integer> arrived, int missingBefore, long killedAt) {
        int dups = 0;
        int dupDot = 0;
        int dupSpool = 0;
        int dupOther = 0;
        for (Map.Entry<String, Integer> e : arrived.entrySet()) {
            if (e.getValue() < 2) {
                continue;
            }
            dups++;
            HaLoad.Acked ack = load.acked.get(e.getKey());
            if (load.unansweredDot.contains(e.getKey())) {
                dupDot++; // the client sent it again after a final dot that got no reply: SMTP's own window
            } else if (ack != null && ack.queued() && ack.instance().equals("mp-a")) {
                dupSpool++; // in mp-a's spool, handed upstream as mp-a died, sent again from the spool on restart
            } else {
                dupOther++;
            }
        }
        int beforeKill = (int) load.acked.values().stream().filter(x -> x.nanos() < killedAt).count();
        int ackedByA = (int) load.acked.values().stream().filter(x -> x.instance().equals("mp-a")).count();
        int queued = (int) load.acked.values().stream().filter(HaLoad.Acked::queued).count();
        int missingAfter = (int) load.acked.keySet().stream().filter(id -> !arrived.containsKey(id)).count();
        int not250d = (int) arrived.keySet().stream().filter(id -> !load.acked.containsKey(id)).count();
        long imapFailures = load.imapErrors.stream().mapToLong(e -> e.failures).sum();
        long imapRecoveries = load.imapErrors.stream().mapToLong(e -> e.recoveries).sum();
        long imapUnrecovered = load.imapErrors.stream().mapToLong(e -> e.unrecovered).sum();
        List<HaLoad.Errors> all = new ArrayList<>(load.smtpErrors);
        all.addAll(load.imapErrors);
        return new Result(load.acked.size(), beforeKill, ackedByA, queued, arrived.size(), missingBefore,
                missingAfter, dups, dupDot, dupSpool, dupOther, not250d, load.imapSessions.get(),
                load.imapFetches.get(), imapFailures,
                imapRecoveries, imapUnrecovered, load.smtpErrors.stream().mapToLong(e -> e.failures).sum(),
                load.smtpErrors.stream().mapToLong(e -> e.recoveries).sum(),
                load.smtpErrors.stream().mapToLong(e -> e.unrecovered).sum(), load.smtpTempFailures.get(),
                all.stream().mapToLong(e -> e.longestNanos).max().orElse(0) / 1e9,
                all.stream().mapToLong(e -> e.totalNanos).sum() / 1e9);
    }

    /** This run's Message-IDs at the sink and how often each arrived. */
    private static Map<String, Integer> arrivals(Env env, String run) {
        Map<String, Integer> out = new java.util.HashMap<>();
        env.sink.messageIds.forEach((id, n) -> {
            if (id.startsWith("<" + run + ".")) {
                out.put(id, n);
            }
        });
        return out;
    }

    /** Waits until the instance's queue is empty and the sink has received nothing new for 2 s (at most 600 s). */
    private static void drain(Env env, int adminPort, String run) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(600);
        int lastCount = -1;
        long stableSince = System.nanoTime();
        while (System.nanoTime() < deadline) {
            int depth = queueDepth(adminPort);
            int count = arrivals(env, run).values().stream().mapToInt(Integer::intValue).sum();
            if (count != lastCount) {
                lastCount = count;
                stableSince = System.nanoTime();
            }
            if (depth == 0 && System.nanoTime() - stableSince > TimeUnit.SECONDS.toNanos(2)) {
                return;
            }
            Thread.sleep(250);
        }
        throw new IOException("the queue on admin port " + adminPort + " did not drain in 600 s");
    }

    /** The queue depth /health reports, or -1 while the admin endpoint does not answer. */
    private static int queueDepth(int adminPort) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", adminPort), 1000);
            s.setSoTimeout(5000);
            s.getOutputStream().write("GET /health HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            try (InputStream in = s.getInputStream()) {
                Matcher m = DEPTH.matcher(new String(in.readAllBytes(), StandardCharsets.UTF_8));
                return m.find() ? Integer.parseInt(m.group(1)) : -1;
            }
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * One instance's configuration: IMAP and SMTP listeners behind HAProxy (PROXY protocol from 127.0.0.1), its own
     * state directory and admin port, the name in its greetings, the accounts on Dovecot, pass-through clients
     * appNN and store-and-forward clients appNNq.
     *
     * @param ports imap, smtp, admin
     * @param perMinute the queue's messages-per-minute: Office 365's 30 for mp-a, far below what the queue clients
     *                  send, so mp-a dies holding accepted mail that only its restart delivers; unpaced for mp-b, so
     *                  its backlog drains within the run
     */
    static String config(Env env, String name, Path state, int[] ports, int perMinute) {
        String hash = PasswordHasher.hash(Env.CLIENT_PASSWORD.toCharArray());
        int accounts = 1 + PASS_THROUGH_CLIENTS + QUEUE_CLIENTS;
        StringBuilder b = new StringBuilder();
        b.append("mailproxy {\n");
        b.append("  state-dir = \"").append(state).append("\"\n");
        b.append("  listeners = [\n");
        b.append("    { protocol = imap, bind = \"127.0.0.1\", port = ").append(ports[0])
                .append(", proxy-protocol { trusted = [\"127.0.0.1/32\"] } }\n");
        b.append("    { protocol = smtp, bind = \"127.0.0.1\", port = ").append(ports[1])
                .append(", proxy-protocol { trusted = [\"127.0.0.1/32\"] } }\n");
        b.append("  ]\n");
        b.append("  upstreams.dovecot {\n");
        b.append("    imap = \"imaps://").append(Dovecot.HOST).append(':').append(env.dovecot.imaps).append("\"\n");
        b.append("    smtp = \"smtp+starttls://").append(Dovecot.HOST).append(':').append(env.dovecot.submission)
                .append("\"\n");
        b.append("    ca-file = \"").append(env.dovecot.certFile).append("\"\n");
        b.append("  }\n");
        b.append("  oauth2.bench { token-endpoint = \"").append(env.idp.tokenEndpoint())
                .append("\", client-id = \"mailproxy-bench\" }\n");
        b.append("  accounts {\n");
        for (int i = 1; i <= accounts; i++) {
            b.append("    \"").append(Env.user(i)).append("\" {\n");
            b.append("      upstream = dovecot\n");
            b.append("      auth { type = oauth2, provider = bench, grant = password, username = \"")
                    .append(Env.user(i)).append("\", password = \"unused-by-the-bench-idp\" }\n");
            b.append("      pool.imap { max = 4, min-idle = 1 }\n");
            b.append("      pool.smtp { max = 2 }\n");
            b.append("    }\n");
        }
        b.append("  }\n");
        b.append("  clients {\n");
        for (int i = 1; i <= accounts; i++) {
            boolean queued = i > 1 + PASS_THROUGH_CLIENTS;
            b.append("    \"").append(Env.client(i)).append(queued ? "q" : "").append("\" { password = \"")
                    .append(hash).append("\", account = \"").append(Env.user(i)).append("\"")
                    .append(queued ? ", protocols = [smtp], smtp { queue = true }" : ", protocols = [imap, smtp]")
                    .append(" }\n");
        }
        b.append("  }\n");
        b.append("  smtp { hostname = \"").append(name).append("\", queue { messages-per-minute = ").append(perMinute)
                .append(" } }\n");
        b.append("  admin { bind = \"127.0.0.1\", port = ").append(ports[2]).append(" }\n");
        b.append("}\n");
        return b.toString();
    }

    /** Debian's HAProxy in the foreground, the two instances behind each frontend; waits until both accept. */
    private static Process haproxy(Path dir, int imapFront, int smtpFront, int[] a, int[] b) throws Exception {
        Path cfg = dir.resolve("haproxy.cfg");
        String server = " send-proxy-v2 source 127.0.0.1 check inter 500ms fall 2 rise 2";
        Files.writeString(cfg, String.join("\n",
                "defaults",
                "    mode tcp",
                "    timeout connect 2s",
                "    timeout client 120s",
                "    timeout server 120s",
                "    retries 3",
                "    option redispatch",
                "frontend imap",
                "    bind " + HAPROXY_HOST + ":" + imapFront,
                "    default_backend imap",
                "frontend smtp",
                "    bind " + HAPROXY_HOST + ":" + smtpFront,
                "    default_backend smtp",
                "backend imap",
                "    balance leastconn",
                "    server mp-a 127.0.0.1:" + a[0] + server,
                "    server mp-b 127.0.0.1:" + b[0] + server,
                "backend smtp",
                "    balance leastconn",
                "    server mp-a 127.0.0.1:" + a[1] + server,
                "    server mp-b 127.0.0.1:" + b[1] + server,
                ""));
        Process p = new ProcessBuilder("haproxy", "-db", "-f", cfg.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("haproxy.out").toFile()).start();
        Runtime.getRuntime().addShutdownHook(new Thread(p::destroy));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        for (int port : new int[] {imapFront, smtpFront}) {
            while (true) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(HAPROXY_HOST, port), 500);
                    break;
                } catch (IOException e) {
                    if (!p.isAlive() || System.nanoTime() > deadline) {
                        throw new IOException("haproxy did not start: " + Files.readString(dir.resolve("haproxy.out")));
                    }
                    Thread.sleep(100);
                }
            }
        }
        Thread.sleep(1500); // the first health checks mark both servers up
        return p;
    }

    private static int freePort(String host) throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(host))) {
            return s.getLocalPort();
        }
    }
}
