package io.mailproxy.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Issue 4, {@code imap-idle}: 2,000 sessions through the daemon in IDLE at once; the daemon's heap and RSS while
 * they idle, and whether each is still served when it sends DONE.
 */
final class ImapIdleBench {

    private static final String PW = Env.CLIENT_PASSWORD;

    private ImapIdleBench() {
    }

    static void run(Env env, DaemonProcess d, Report report, int runs) throws Exception {
        int perAccount = 100;
        int total = perAccount * Env.ACCOUNTS;
        report.line("### %d concurrent IMAP sessions in IDLE (issue 4)", total)
                .line("")
                .line("%d accounts × %d sessions, `pool.imap.max = 100`; each session: connect, `LOGIN`, "
                        + "`SELECT INBOX`, `IDLE` until `+ idling`. With all sessions idling: the daemon's heap "
                        + "used after a full GC (`jcmd GC.run`, `GC.heap_info`; daemon JVM `%s`) and its RSS "
                        + "(/proc VmRSS). Then each session sends `DONE` and must get its tagged OK (served = "
                        + "sessions that did), then LOGOUT. Run 1 starts with cold pools (2,000 upstream logins); "
                        + "later runs lease the connections the earlier ones returned.",
                        Env.ACCOUNTS, perAccount, DaemonProcess.JVM_HEAP)
                .line("")
                .line("| run | sessions idling | served (DONE → OK) | time to open all | heap used after GC | RSS |")
                .line("|---|---|---|---|---|---|");
        long baseHeap = d.heapUsedAfterGcKiB();
        long baseRss = d.rssKiB();
        List<Double> heaps = new ArrayList<>();
        List<Double> rsss = new ArrayList<>();
        List<Double> served = new ArrayList<>();
        ExecutorService pool = Executors.newFixedThreadPool(Env.ACCOUNTS);
        try {
            for (int r = 1; r <= runs; r++) {
                List<Wire> open = Collections.synchronizedList(new ArrayList<>());
                AtomicInteger failures = new AtomicInteger();
                long t0 = System.nanoTime();
                List<Future<?>> jobs = new ArrayList<>();
                for (int a = 1; a <= Env.ACCOUNTS; a++) {
                    int account = a;
                    jobs.add(pool.submit(() -> {
                        for (int i = 0; i < perAccount; i++) {
                            Wire w = null;
                            try {
                                w = Wire.plain(d.imapAddress());
                                w.line();
                                Wire.expect(w.imap("a", "LOGIN " + Env.client(account) + " " + PW, null), "a OK");
                                Wire.expect(w.imap("b", "SELECT INBOX", null), "b OK");
                                w.send("c IDLE");
                                Wire.expect(w.line(), "+");
                                open.add(w);
                            } catch (IOException e) {
                                if (failures.getAndIncrement() < 3) {
                                    System.err.println("idle session failed: " + e);
                                }
                                if (w != null) {
                                    w.close();
                                }
                            }
                        }
                    }));
                }
                for (Future<?> f : jobs) {
                    f.get();
                }
                double openSeconds = (System.nanoTime() - t0) / 1e9;
                long heap = d.heapUsedAfterGcKiB();
                long rss = d.rssKiB();
                long dovecotProcs = env.dovecot.processCount();
                AtomicInteger ok = new AtomicInteger();
                List<Future<?>> done = new ArrayList<>();
                for (int a = 0; a < Env.ACCOUNTS; a++) {
                    int slice = a;
                    done.add(pool.submit(() -> {
                        for (int i = slice; i < open.size(); i += Env.ACCOUNTS) {
                            Wire w = open.get(i);
                            try {
                                w.send("DONE");
                                if (w.imapUntil("c", null).startsWith("c OK")) {
                                    ok.incrementAndGet();
                                }
                                w.imap("z", "LOGOUT", null);
                            } catch (IOException e) {
                                // not served
                            } finally {
                                w.close();
                            }
                        }
                    }));
                }
                for (Future<?> f : done) {
                    f.get();
                }
                System.err.printf("imap-idle run %d: %d idling, %d served, %.1f s, heap %d KiB, rss %d KiB, "
                        + "%d dovecot processes%n", r, open.size(), ok.get(), openSeconds, heap, rss, dovecotProcs);
                report.line("| %d | %d / %d | %d | %.1f s | %.1f MiB | %.1f MiB |", r, open.size(), total, ok.get(),
                        openSeconds, heap / 1024.0, rss / 1024.0);
                heaps.add(heap / 1024.0);
                rsss.add(rss / 1024.0);
                served.add((double) ok.get());
                Thread.sleep(2000); // let the daemon finish resetting the returned upstream connections
            }
        } finally {
            pool.shutdownNow();
        }
        Stats hs = Stats.of(heaps);
        Stats rs = Stats.of(rsss);
        Stats ss = Stats.of(served);
        report.line("| **median (min–max)** | | %.0f (%.0f–%.0f) | | **%.1f MiB** (%.1f–%.1f) | %.0f MiB (%.0f–%.0f) |",
                        ss.median(), ss.min(), ss.max(), hs.median(), hs.min(), hs.max(), rs.median(), rs.min(),
                        rs.max())
                .line("")
                .line("Before the first run (no client sessions, %d warm pooled connections): heap used after GC "
                        + "%.1f MiB, RSS %.1f MiB.", Env.ACCOUNTS, baseHeap / 1024.0, baseRss / 1024.0)
                .line("");
        report.flush();
    }
}
