package io.mailproxy.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Issue 16, {@code graph-pop3}: POP3 {@code RETR} of every message of a Graph inbox through the daemon
 * ({@code pop3.source = graph}) against a direct client that lists the folder and GETs each message's {@code $value}
 * itself; the time from connecting to the first byte of the first message; the daemon's heap while it relays 10 MB
 * messages.
 */
final class GraphPop3Bench {

    private static final int REPEATS = 2;

    /** A mailbox's contents: {@code count} messages of {@code size} octets in its inbox. */
    private record Box(int account, int count, int size) {
        long bytes() {
            return (long) count * size;
        }

        String label() {
            return count + " × " + (size >= 1024 * 1024 ? size / (1024 * 1024) + " MiB" : size / 1024 + " KiB");
        }
    }

    private static final Box SMALL = new Box(1, 200, 100 * 1024);
    private static final Box LARGE = new Box(2, 5, 10 * 1024 * 1024);
    /** For the heap figure only: one message five times as big, to show the heap does not grow with it. */
    private static final Box HUGE = new Box(3, 1, 50 * 1024 * 1024);
    /** The 50 MiB message's client reads 16 MiB/s: about 3 s, several heap samples, and backpressure at work. */
    private static final long SLOW_CLIENT = 16L * 1024 * 1024;

    private GraphPop3Bench() {
    }

    /** Seconds to list and fetch every message, and milliseconds from the first request to the first octet. */
    private record Timing(double seconds, double firstByteMs) { }

    private static Timing proxy(DaemonProcess d, Box box) throws IOException {
        return proxy(d, box, 0);
    }

    /** A POP3 session retrieving every message of {@code box}; {@code pace}: the client's read rate (0: no limit). */
    private static Timing proxy(DaemonProcess d, Box box, long pace) throws IOException {
        long t0 = System.nanoTime();
        double first;
        long bytes = 0;
        try (Wire w = Wire.plain(d.pop3Address())) {
            Wire.expect(w.line(), "+OK");
            w.send("USER " + GraphUpstream.client(box.account()));
            Wire.expect(w.line(), "+OK");
            w.send("PASS " + Env.CLIENT_PASSWORD);
            Wire.expect(w.line(), "+OK");
            w.send("RETR 1");
            Wire.expect(w.line(), "+OK");
            first = (System.nanoTime() - t0) / 1e6;
            w.pace(pace);
            bytes += w.dotTerminated();
            for (int i = 2; i <= box.count(); i++) {
                w.send("RETR " + i);
                Wire.expect(w.line(), "+OK");
                bytes += w.dotTerminated();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            w.send("QUIT");
            w.line();
            if (bytes < box.bytes()) {
                throw new IOException("RETR gave " + bytes + " octets, expected " + box.bytes());
            }
            return new Timing(s, first);
        }
    }

    private static Timing direct(GraphUpstream g, Box box) throws IOException {
        double[] r = g.direct.read(Env.user(box.account()), box.count(), box.bytes());
        return new Timing(r[0], r[1]);
    }

    static void run(Env env, Path jar, Report report, int runs, int warmups) throws Exception {
        try (GraphUpstream g = GraphUpstream.start(env)) {
            for (int i = 1; i <= SMALL.count(); i++) {
                g.fake.mailbox(Env.user(SMALL.account())).deliver(Messages.message(Env.user(1), i, SMALL.size()));
            }
            for (Box box : List.of(LARGE, HUGE)) {
                for (int i = 1; i <= box.count(); i++) {
                    Path f = env.scratch.resolve("graph-pop3-" + box.account() + "-" + i + ".eml");
                    Files.write(f, Messages.message(Env.user(box.account()), i, box.size()));
                    g.fake.mailbox(Env.user(box.account())).deliver(f, false, "inbox");
                }
            }
            try (DaemonProcess d = DaemonProcess.start(env, jar, "graph-pop3", (imap, pop3, smtp) -> g.hocon(pop3, 0),
                    "pop3")) {
                for (Box box : List.of(SMALL, LARGE)) {
                    throughput(g, d, box, report, runs, warmups);
                }
                memory(d, report, runs);
            }
        }
    }

    private static void throughput(GraphUpstream g, DaemonProcess d, Box box, Report report, int runs, int warmups)
            throws Exception {
        double mib = box.bytes() / (1024.0 * 1024.0);
        List<Double> dRate = new ArrayList<>();
        List<Double> pRate = new ArrayList<>();
        List<Double> ratio = new ArrayList<>();
        List<Double> dFirst = new ArrayList<>();
        List<Double> pFirst = new ArrayList<>();
        for (int r = -warmups; r < runs; r++) {
            double a = 0;
            double b = 0;
            double fa = 0;
            double fb = 0;
            for (int k = 0; k < REPEATS; k++) {
                Timing dt;
                Timing pt;
                if (((r + k) & 1) == 0) {
                    dt = direct(g, box);
                    pt = proxy(d, box);
                } else {
                    pt = proxy(d, box);
                    dt = direct(g, box);
                }
                a += dt.seconds() / REPEATS;
                b += pt.seconds() / REPEATS;
                fa += dt.firstByteMs() / REPEATS;
                fb += pt.firstByteMs() / REPEATS;
            }
            System.err.printf("graph-pop3 %s run %d: direct %.1f MiB/s (first byte %.1f ms), via mailproxy %.1f MiB/s "
                    + "(first byte %.1f ms)%n", box.label(), r, mib / a, fa, mib / b, fb);
            if (r >= 0) {
                dRate.add(mib / a);
                pRate.add(mib / b);
                ratio.add(100 * a / b);
                dFirst.add(fa);
                pFirst.add(fb);
            }
        }
        report.line("### POP3 RETR of %s from a Graph inbox (issue 16)", box.label())
                .line("")
                .line("%d measured runs after %d warm-up runs; each run averages %d sessions of each kind, in an order "
                        + "that flips from session to session. Via mailproxy (`pop3 { source = graph, folder = inbox, "
                        + "on-delete = keep }`): connect, USER, PASS (the daemon lists the folder, 100 a page), then "
                        + "`RETR 1` … `RETR %d`, each read to its terminating dot, then QUIT. Direct: a JVM of its "
                        + "own (as the daemon's) with one JDK HttpClient (kept-alive connections, app-only token "
                        + "minted beforehand) listing the same "
                        + "folder with the daemon's query (`$select`, `$expand` of the size estimate, `$orderby`, "
                        + "`$top=100`, following `@odata.nextLink`), then a GET of each message's `$value`, streamed "
                        + "(`BodyHandlers.ofInputStream`) to its end. Both timed from the first octet sent (connect, "
                        + "or the first list request) to the "
                        + "last octet of the last message; first byte: to the `+OK` of `RETR 1`, or to the first "
                        + "octets of the first `$value`. The fake Graph serves both from memory.", runs, warmups,
                        REPEATS, box.count())
                .line("")
                .line("| path | median (min–max; IQR) over the runs |")
                .line("|---|---|")
                .line("| direct Graph list + `$value` | %s MiB/s |", Stats.of(dRate).summary("%.1f"))
                .line("| POP3 via mailproxy | %s MiB/s |", Stats.of(pRate).summary("%.1f"))
                .line("| mailproxy / direct | **%s %%** |", Stats.of(ratio).summary("%.0f"))
                .line("| direct: list to first byte of message 1 | %s ms |", Stats.of(dFirst).summary("%.1f"))
                .line("| via mailproxy: connect to `+OK` of `RETR 1` | %s ms |", Stats.of(pFirst).summary("%.1f"))
                .line("");
        report.flush();
    }

    /** The daemon's live heap while it streams the 10 MiB messages, then the 50 MiB one, to a POP3 client. */
    private static void memory(DaemonProcess d, Report report, int runs) throws Exception {
        List<Double> idle = new ArrayList<>();
        List<Double> during = new ArrayList<>();
        List<Double> duringHuge = new ArrayList<>();
        List<Double> rss = new ArrayList<>();
        List<Double> rssIdle = new ArrayList<>();
        long samples = 0;
        for (int r = 0; r < runs; r++) {
            idle.add(d.liveHeapKiB() / 1024.0);
            rssIdle.add(d.rssKiB() / 1024.0);
            long[] h = GraphUpstream.heapWhile(d, () -> proxy(d, LARGE));
            long[] hh = GraphUpstream.heapWhile(d, () -> proxy(d, HUGE, SLOW_CLIENT));
            during.add(h[0] / 1024.0);
            duringHuge.add(hh[0] / 1024.0);
            rss.add(Math.max(h[2], hh[2]) / 1024.0);
            samples += h[1] + hh[1];
            System.err.printf("graph-pop3 memory run %d: idle %.1f MiB, 10 MiB %.1f MiB, 50 MiB %.1f MiB (%d+%d "
                    + "samples), RSS %.0f MiB%n", r, idle.get(r), during.get(r), duringHuge.get(r), h[1], hh[1],
                    rss.get(r));
        }
        report.line("### Daemon heap while POP3 relays 10 MiB and 50 MiB messages from Graph (issue 16)")
                .line("")
                .line("%d runs. Each run: live heap with the daemon idle; then one POP3 session retrieving "
                        + "the 5 × 10 MiB messages, then one retrieving a single 50 MiB message (another mailbox) "
                        + "by a slow client (reading 16 MiB/s, so the daemon must hold back Graph's faster download), "
                        + "while the live heap is sampled again and again (`jcmd GC.class_histogram`: a full GC, then "
                        + "the bytes still reachable, in one safepoint; then VmRSS; %d samples in all); the largest "
                        + "sample of each is kept. Daemon `-Xmx1g`.",
                        runs, samples)
                .line("")
                .line("| figure | median (min–max; IQR) over the runs |")
                .line("|---|---|")
                .line("| live heap, idle | %s MiB |", Stats.of(idle).summary("%.1f"))
                .line("| largest live heap during 5 × 10 MiB RETR | %s MiB |", Stats.of(during).summary("%.1f"))
                .line("| largest live heap during 1 × 50 MiB RETR | %s MiB |", Stats.of(duringHuge).summary("%.1f"))
                .line("| resident set (RSS), idle (after the earlier transfers) | %s MiB |",
                        Stats.of(rssIdle).summary("%.0f"))
                .line("| largest resident set (RSS) during both | %s MiB |", Stats.of(rss).summary("%.0f"))
                .line("");
        report.flush();
    }
}
