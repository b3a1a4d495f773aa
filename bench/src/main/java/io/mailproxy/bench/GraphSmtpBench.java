package io.mailproxy.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Issue 16, {@code graph-smtp}: SMTP submissions through the daemon ({@code send-with = graph}) to the fake Graph,
 * against a direct client that posts the same MIME to {@code sendMail} itself; the queue's acceptance rate; and the
 * daemon's heap while it relays 10 MB and 50 MB messages by the large-message path (MIME draft, upload sessions).
 */
final class GraphSmtpBench {

    private static final String PW = Env.CLIENT_PASSWORD;
    private static final String RCPT = "sink@bench.test";
    private static final int CLIENTS = GraphUpstream.ACCOUNTS;
    private static final int SMALL = 10 * 1024;
    private static final int SMALL_MESSAGES = 500;
    private static final int LARGE = 1024 * 1024;
    private static final int LARGE_MESSAGES = 200;

    private GraphSmtpBench() {
    }

    /** One message on a new connection to the daemon, MAIL to 250 after the final dot. */
    private static void sendProxy(DaemonProcess d, String client, int account, byte[] body) throws IOException {
        try (Wire w = Wire.plain(d.smtpAddress())) {
            Wire.expect(w.smtpReply(), "220");
            w.send("EHLO bench.test");
            Wire.expect(w.smtpReply(), "250");
            w.send("AUTH PLAIN " + Env.plain(client, PW));
            Wire.expect(w.smtpReply(), "235");
            w.send("MAIL FROM:<" + Env.user(account) + ">");
            Wire.expect(w.smtpReply(), "250");
            w.send("RCPT TO:<" + RCPT + ">");
            Wire.expect(w.smtpReply(), "250");
            w.send("DATA");
            Wire.expect(w.smtpReply(), "354");
            w.sendRaw(body);
            w.send(".");
            Wire.expect(w.smtpReply(), "250");
            w.send("QUIT");
            w.smtpReply();
        }
    }

    /** One file on a new connection to the daemon (streamed; the file has no line starting with a dot). */
    private static void sendProxyFile(DaemonProcess d, int account, Path file) throws IOException {
        byte[] buf = new byte[1 << 16];
        try (Wire w = Wire.plain(d.smtpAddress()); InputStream in = Files.newInputStream(file)) {
            Wire.expect(w.smtpReply(), "220");
            w.send("EHLO bench.test");
            Wire.expect(w.smtpReply(), "250");
            w.send("AUTH PLAIN " + Env.plain(GraphUpstream.client(account), PW));
            Wire.expect(w.smtpReply(), "235");
            w.send("MAIL FROM:<" + Env.user(account) + ">");
            Wire.expect(w.smtpReply(), "250");
            w.send("RCPT TO:<" + RCPT + ">");
            Wire.expect(w.smtpReply(), "250");
            w.send("DATA");
            Wire.expect(w.smtpReply(), "354");
            for (int n; (n = in.read(buf)) > 0; ) {
                w.sendRaw(java.util.Arrays.copyOf(buf, n));
            }
            w.send(".");
            Wire.expect(w.smtpReply(), "250");
            w.send("QUIT");
            w.smtpReply();
        }
    }

    private enum Path3 { DIRECT, PROXY, QUEUE }

    /** {@code total} messages of {@code size} from 10 concurrent clients; returns messages/s until the last reply. */
    private static double round(ExecutorService pool, GraphUpstream g, DaemonProcess d, Path3 path, int size,
                                int total) throws Exception {
        byte[] body = Messages.message(RCPT, 1, size);
        g.forgetSent();
        long before = g.sent();
        double seconds = path == Path3.DIRECT ? g.direct.send(CLIENTS, size, total)
                : proxyRound(pool, d, path, body, total);
        if (path == Path3.QUEUE) {
            // the queue delivers after its 250s: wait until Graph has them all, so no round overlaps the next
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (g.sent() - before < total && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
        }
        long sent = g.sent() - before;
        if (sent != total) {
            throw new IOException(path + ": Graph accepted " + sent + " messages, expected " + total);
        }
        return total / seconds;
    }

    /** Sends through the daemon from one thread per account; returns seconds until the last 250. */
    private static double proxyRound(ExecutorService pool, DaemonProcess d, Path3 path, byte[] body, int total)
            throws Exception {
        long t0 = System.nanoTime();
        List<Future<?>> jobs = new ArrayList<>();
        for (int c = 1; c <= CLIENTS; c++) {
            int account = c;
            jobs.add(pool.submit(() -> {
                for (int i = 0; i < total / CLIENTS; i++) {
                    sendProxy(d, path == Path3.QUEUE ? GraphUpstream.queueClient(account)
                            : GraphUpstream.client(account), account, body);
                }
                return null;
            }));
        }
        for (Future<?> f : jobs) {
            f.get();
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    static void run(Env env, Path jar, Report report, int runs, int warmups) throws Exception {
        try (GraphUpstream g = GraphUpstream.start(env);
             DaemonProcess d = DaemonProcess.start(env, jar, "graph-smtp", (imap, pop3, smtp) -> g.hocon(0, smtp),
                     "smtp")) {
            ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
            try {
                throughput(pool, g, d, report, runs, warmups);
                memory(env, g, d, report, runs);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private static void throughput(ExecutorService pool, GraphUpstream g, DaemonProcess d, Report report, int runs,
                                   int warmups) throws Exception {
        List<List<Double>> f = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            f.add(new ArrayList<>());
        }
        for (int r = -warmups; r < runs; r++) {
            double ds;
            double ps;
            double dl;
            double pl;
            if ((r & 1) == 0) {
                ds = round(pool, g, d, Path3.DIRECT, SMALL, SMALL_MESSAGES);
                ps = round(pool, g, d, Path3.PROXY, SMALL, SMALL_MESSAGES);
                dl = round(pool, g, d, Path3.DIRECT, LARGE, LARGE_MESSAGES);
                pl = round(pool, g, d, Path3.PROXY, LARGE, LARGE_MESSAGES);
            } else {
                pl = round(pool, g, d, Path3.PROXY, LARGE, LARGE_MESSAGES);
                dl = round(pool, g, d, Path3.DIRECT, LARGE, LARGE_MESSAGES);
                ps = round(pool, g, d, Path3.PROXY, SMALL, SMALL_MESSAGES);
                ds = round(pool, g, d, Path3.DIRECT, SMALL, SMALL_MESSAGES);
            }
            double q = round(pool, g, d, Path3.QUEUE, SMALL, SMALL_MESSAGES);
            System.err.printf("graph-smtp run %d: 10 KiB direct %.0f, proxy %.0f; 1 MiB direct %.1f, proxy %.1f; "
                    + "queue accepts %.0f msgs/s%n", r, ds, ps, dl, pl, q);
            if (r >= 0) {
                f.get(0).add(ds);
                f.get(1).add(ps);
                f.get(2).add(ps / ds);
                f.get(3).add(dl);
                f.get(4).add(pl);
                f.get(5).add(pl / dl);
                f.get(6).add(q);
            }
        }
        report.line("### SMTP through Microsoft Graph (issue 16)")
                .line("")
                .line("%d measured runs after %d warm-up runs; order flips each run. 10 concurrent clients, one "
                        + "account (and Graph mailbox) each. Via mailproxy: every message on a new SMTP connection "
                        + "(EHLO, `AUTH PLAIN`, MAIL, RCPT, DATA, 250, QUIT), pass-through (`send-with = graph`): the "
                        + "250 follows Graph's 202 to `POST /users/{mailbox}/sendMail`. Direct: a JVM of its own (as "
                        + "the daemon's) with one JDK HttpClient (kept-alive connections), 10 threads posting the same "
                        + "MIME, base64, `text/plain`, to the same `sendMail` with an app-only token minted "
                        + "beforehand, as a program using Graph itself would. The fake Graph (testkit's FakeGraph, "
                        + "JDK HttpsServer, in the bench JVM) is the "
                        + "upstream of both; each round checks that it accepted every message. Queue: the same "
                        + "10 KiB messages from clients with `smtp.queue = true` (250 after fsync to the spool), "
                        + "timed to the last 250, then drained to Graph (pacing raised) before the next round.",
                        runs, warmups)
                .line("")
                .line("| figure | median (min–max; IQR) over the runs |")
                .line("|---|---|")
                .line("| direct sendMail, %d × 10 KiB: messages/s | %s |", SMALL_MESSAGES,
                        Stats.of(f.get(0)).summary("%.0f"))
                .line("| via mailproxy, %d × 10 KiB: messages/s | %s |", SMALL_MESSAGES,
                        Stats.of(f.get(1)).summary("%.0f"))
                .line("| 10 KiB: proxy / direct | **%s×** |", Stats.of(f.get(2)).summary("%.2f"))
                .line("| direct sendMail, %d × 1 MiB: messages/s | %s |", LARGE_MESSAGES,
                        Stats.of(f.get(3)).summary("%.1f"))
                .line("| via mailproxy, %d × 1 MiB: messages/s | %s |", LARGE_MESSAGES,
                        Stats.of(f.get(4)).summary("%.1f"))
                .line("| 1 MiB: proxy / direct | **%s×** |", Stats.of(f.get(5)).summary("%.2f"))
                .line("| queue (`smtp.queue = true`), %d × 10 KiB: accepted messages/s | %s |", SMALL_MESSAGES,
                        Stats.of(f.get(6)).summary("%.0f"))
                .line("");
        report.flush();
    }

    /** The daemon's live heap while it relays 10 MB and 50 MB messages (draft + upload sessions). */
    private static void memory(Env env, GraphUpstream g, DaemonProcess d, Report report, int runs) throws Exception {
        Path ten = GraphUpstream.multipart(env.scratch.resolve("graph-10mb.eml"), RCPT, 10, 10_000_000L, 1);
        Path fifty = GraphUpstream.multipart(env.scratch.resolve("graph-50mb.eml"), RCPT, 50, 50_000_000L, 3);
        List<Double> idle = new ArrayList<>();
        List<Double> during10 = new ArrayList<>();
        List<Double> during50 = new ArrayList<>();
        List<Double> rate50 = new ArrayList<>();
        List<Double> rss = new ArrayList<>();
        List<Double> rssIdle = new ArrayList<>();
        long samples = 0;
        for (int r = 0; r < runs; r++) {
            g.forgetSent();
            idle.add(d.liveHeapKiB() / 1024.0);
            rssIdle.add(d.rssKiB() / 1024.0);
            long before = g.sent();
            long[] h10 = GraphUpstream.heapWhile(d, () -> {
                for (int i = 0; i < 3; i++) {
                    sendProxyFile(d, 1, ten);
                }
            });
            long t0 = System.nanoTime();
            long[] h50 = GraphUpstream.heapWhile(d, () -> sendProxyFile(d, 1, fifty));
            double s = (System.nanoTime() - t0) / 1e9;
            if (g.sent() - before != 4) {
                throw new IOException("Graph sent " + (g.sent() - before) + " of the 4 large messages");
            }
            var last = g.fake.mailbox(Env.user(1)).sent();
            if (!last.get(last.size() - 1).viaDraft() || last.get(last.size() - 1).attachments().size() != 3) {
                throw new IOException("the 50 MB message did not go as a draft with 3 attachments");
            }
            during10.add(h10[0] / 1024.0);
            during50.add(h50[0] / 1024.0);
            rss.add(Math.max(h10[2], h50[2]) / 1024.0);
            rate50.add(Files.size(fifty) / (1024.0 * 1024.0) / s);
            samples += h10[1] + h50[1];
            System.err.printf("graph-smtp memory run %d: idle %.1f, 10 MB %.1f, 50 MB %.1f MiB (%d+%d samples); 50 MB "
                    + "in %.1f s%n", r, idle.get(r), during10.get(r), during50.get(r), h10[1], h50[1], s);
        }
        report.line("### Daemon heap while SMTP relays large messages through Graph (issue 16)")
                .line("")
                .line("%d runs. Each run: live heap with the daemon idle; then 3 messages of 10 MB "
                        + "(one base64 attachment) and one of 50 MB (3 base64 attachments), each on its own SMTP "
                        + "connection in pass-through, all over Graph's 4 MB request limit so sent as a MIME draft "
                        + "without the big parts plus one upload session per attachment, then `send`; the bench checks "
                        + "that the fake received a draft send with 3 attachments. Meanwhile the live heap is "
                        + "sampled again and again (`jcmd GC.class_histogram`: a full GC, then the bytes still "
                        + "reachable, in one safepoint; then VmRSS; %d samples in all) and the "
                        + "largest sample is kept. Daemon `-Xmx1g`.", runs, samples)
                .line("")
                .line("| figure | median (min–max; IQR) over the runs |")
                .line("|---|---|")
                .line("| live heap, idle | %s MiB |", Stats.of(idle).summary("%.1f"))
                .line("| largest live heap while relaying 3 × 10 MB | %s MiB |", Stats.of(during10).summary("%.1f"))
                .line("| largest live heap while relaying 1 × 50 MB | %s MiB |", Stats.of(during50).summary("%.1f"))
                .line("| resident set (RSS), idle (after the earlier transfers) | %s MiB |",
                        Stats.of(rssIdle).summary("%.0f"))
                .line("| largest resident set (RSS) during both | %s MiB |", Stats.of(rss).summary("%.0f"))
                .line("| 50 MB message, connect to 250, slowed by the sampling's full GCs: MiB/s | %s |",
                        Stats.of(rate50).summary("%.1f"))
                .line("");
        report.flush();
    }
}
