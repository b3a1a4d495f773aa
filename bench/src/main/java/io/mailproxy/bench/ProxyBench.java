package io.mailproxy.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Issues 4, 5 and 6: the daemon in its own JVM against a direct JDK TLS 1.3 client (no session resumption) to the
 * same Dovecot, in the same run. Direct and proxied measurements alternate run by run (which goes first flips each
 * run), so drift of the machine hits both alike.
 */
final class ProxyBench {

    private static final String PW = Env.CLIENT_PASSWORD;

    private ProxyBench() {
    }

    static void run(String name, Env env, Report report, Path jar, int runs, int warmups) throws Exception {
        switch (name) {
            case "imap-fetch" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 8, 1, "imap")) {
                    imapFetch(env, d, report, runs, warmups);
                }
            }
            case "imap-login" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 8, 2, "imap")) {
                    imapLogin(env, d, report, runs, warmups);
                }
            }
            case "imap-idle" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 100, 1, "imap")) {
                    imapIdle(env, d, report, runs);
                }
            }
            case "pop3" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 8, 1, "pop3")) {
                    pop3(env, d, report, runs, warmups);
                }
            }
            case "smtp" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 8, 1, "smtp")) {
                    smtp(env, d, report, runs, warmups);
                }
            }
            default -> throw new IllegalArgumentException(name);
        }
    }

    /** Runs each direct client once against Dovecot and prints what it measured (checks the harness itself). */
    static void directCheck(Env env) throws Exception {
        double mib = FETCH_BYTES / (1024.0 * 1024.0);
        System.out.printf("direct IMAP FETCH: %.1f MiB/s%n", mib / fetchDirect(env));
        System.out.printf("direct IMAP login: %.0f us%n", loginDirect(env, 3));
        System.out.printf("direct POP3 RETR: %.1f MiB/s%n", mib / retrDirectPop3(env));
        System.out.printf("direct IMAP FETCH each: %.1f MiB/s%n", mib / fetchEachDirect(env));
        byte[] body = Messages.message("sink@bench.test", 1, SMTP_SIZE);
        System.out.printf("direct SMTP message: %.0f us, sink has %d%n", sendDirect(env, 2, body),
                env.sink.delivered.get());
    }

    /** 2,000 direct TLS sessions in IDLE: checks that Dovecot's raised limits hold without the proxy. */
    static void directIdle(Env env) throws Exception {
        List<Wire> open = Collections.synchronizedList(new ArrayList<>());
        ExecutorService pool = Executors.newFixedThreadPool(Env.ACCOUNTS);
        AtomicInteger failures = new AtomicInteger();
        long t0 = System.nanoTime();
        List<Future<?>> jobs = new ArrayList<>();
        for (int a = 1; a <= Env.ACCOUNTS; a++) {
            int account = a;
            jobs.add(pool.submit(() -> {
                for (int i = 0; i < 100; i++) {
                    try {
                        Wire w = Wire.tls(env.tls, env.imaps());
                        open.add(w);
                        w.line();
                        Wire.expect(w.imap("a", "AUTHENTICATE XOAUTH2 " + env.xoauth2(Env.user(account)), null),
                                "a OK");
                        Wire.expect(w.imap("b", "SELECT INBOX", null), "b OK");
                        w.send("c IDLE");
                        Wire.expect(w.line(), "+");
                    } catch (IOException e) {
                        if (failures.getAndIncrement() < 3) {
                            System.err.println("direct idle failed: " + e);
                        }
                    }
                }
            }));
        }
        for (Future<?> f : jobs) {
            f.get();
        }
        System.out.printf("direct idle: %d open, %d failed, %.1f s, %d dovecot processes%n", open.size(),
                failures.get(), (System.nanoTime() - t0) / 1e9, env.dovecot.processCount());
        open.forEach(Wire::close);
        pool.shutdownNow();
    }

    // ---------------------------------------------------------------- IMAP FETCH

    static final long FETCH_BYTES = (long) Env.MESSAGES * Env.MESSAGE_SIZE;
    private static final int FETCH_REPEATS = 3;

    /** Seconds for UID FETCH 1:* BODY.PEEK[] of the 30 messages, after login and SELECT. */
    private static double fetchDirect(Env env) throws IOException {
        try (Wire w = Wire.tls(env.tls, env.imaps())) {
            w.line();
            Wire.expect(w.imap("a", "AUTHENTICATE XOAUTH2 " + env.xoauth2(Env.user(1)), null), "a OK");
            Wire.expect(w.imap("b", "SELECT INBOX", null), "b OK");
            return timedFetch(w);
        }
    }

    private static double fetchProxy(DaemonProcess d) throws IOException {
        try (Wire w = Wire.plain(d.imapAddress())) {
            w.line();
            Wire.expect(w.imap("a", "LOGIN " + Env.client(1) + " " + PW, null), "a OK");
            Wire.expect(w.imap("b", "SELECT INBOX", null), "b OK");
            return timedFetch(w);
        }
    }

    private static double timedFetch(Wire w) throws IOException {
        double s = timedFetch(w, "c");
        w.imap("z", "LOGOUT", null);
        return s;
    }

    /**
     * Seconds for {@code UID FETCH 1:* BODY.PEEK[]} of the 30 messages on a session already in SELECTED state, to
     * the tagged OK, with the literal octets checked; the session stays open (imap-hostile reuses it).
     */
    static double timedFetch(Wire w, String tag) throws IOException {
        long[] bytes = new long[1];
        long t0 = System.nanoTime();
        Wire.expect(w.imap(tag, "UID FETCH 1:* BODY.PEEK[]", bytes), tag + " OK");
        double s = (System.nanoTime() - t0) / 1e9;
        if (bytes[0] != FETCH_BYTES) {
            throw new IOException("fetched " + bytes[0] + " literal octets, expected " + FETCH_BYTES);
        }
        return s;
    }

    private static void imapFetch(Env env, DaemonProcess d, Report report, int runs, int warmups) throws Exception {
        List<Double> direct = new ArrayList<>();
        List<Double> proxy = new ArrayList<>();
        List<Double> ratio = new ArrayList<>();
        double mib = FETCH_BYTES / (1024.0 * 1024.0);
        for (int r = -warmups; r < runs; r++) {
            // each run: FETCH_REPEATS sessions each way, alternating, summed (one 30 MiB fetch is ~0.3 s)
            double sd = 0;
            double sp = 0;
            for (int k = 0; k < FETCH_REPEATS; k++) {
                if (((r + k) & 1) == 0) {
                    sd += fetchDirect(env);
                    sp += fetchProxy(d);
                } else {
                    sp += fetchProxy(d);
                    sd += fetchDirect(env);
                }
            }
            sd /= FETCH_REPEATS;
            sp /= FETCH_REPEATS;
            System.err.printf("imap-fetch run %d: direct %.1f MiB/s, proxy %.1f MiB/s%n", r, mib / sd, mib / sp);
            if (r >= 0) {
                direct.add(mib / sd);
                proxy.add(mib / sp);
                ratio.add(sd / sp);
            }
        }
        Stats ds = Stats.of(direct);
        Stats ps = Stats.of(proxy);
        Stats rs = Stats.of(ratio);
        report.line("### IMAP FETCH of 30 × 1 MiB (issue 4)")
                .line("")
                .line("%d measured runs after %d warm-up runs. Each run: %d sessions each way, alternating; in "
                        + "each, login and SELECT untimed, then `UID FETCH 1:* BODY.PEEK[]` timed to the tagged OK "
                        + "(31,457,280 literal octets checked); a run's figure is the mean over its sessions.",
                        runs, warmups, FETCH_REPEATS)
                .line("")
                .line("| path | median | IQR (p25–p75) | min–max |")
                .line("|---|---|---|---|")
                .line("| direct JDK TLS 1.3 → Dovecot | %.1f MiB/s | %.1f–%.1f | %.1f–%.1f |", ds.median(),
                        ds.percentile(25), ds.percentile(75), ds.min(), ds.max())
                .line("| plaintext → mailproxy → TLS → Dovecot | %.1f MiB/s | %.1f–%.1f | %.1f–%.1f |", ps.median(),
                        ps.percentile(25), ps.percentile(75), ps.min(), ps.max())
                .line("| proxy / direct (per run) | **%.0f%%** | %.0f–%.0f%% | %.0f–%.0f%% |", 100 * rs.median(),
                        100 * rs.percentile(25), 100 * rs.percentile(75), 100 * rs.min(), 100 * rs.max())
                .line("");
        report.flush();
    }

    // ---------------------------------------------------------------- IMAP login

    /** Microseconds from connect to the tagged OK of AUTHENTICATE XOAUTH2 (token minted before the clock starts). */
    private static double loginDirect(Env env, int account) throws IOException {
        String ir = env.xoauth2(Env.user(account));
        long t0 = System.nanoTime();
        try (Wire w = Wire.tls(env.tls, env.imaps())) {
            w.line();
            Wire.expect(w.imap("a", "AUTHENTICATE XOAUTH2 " + ir, null), "a OK");
            double us = (System.nanoTime() - t0) / 1e3;
            w.imap("z", "LOGOUT", null);
            return us;
        }
    }

    /** The part of the last proxied login spent from connect to the greeting (µs), per thread. */
    private static final ThreadLocal<double[]> GREETING = ThreadLocal.withInitial(() -> new double[1]);

    private static double loginProxy(DaemonProcess d, int account) throws IOException {
        long t0 = System.nanoTime();
        try (Wire w = Wire.plain(d.imapAddress())) {
            w.line();
            GREETING.get()[0] = (System.nanoTime() - t0) / 1e3;
            Wire.expect(w.imap("a", "LOGIN " + Env.client(account) + " " + PW, null), "a OK");
            double us = (System.nanoTime() - t0) / 1e3;
            w.imap("z", "LOGOUT", null);
            return us;
        }
    }

    private static void imapLogin(Env env, DaemonProcess d, Report report, int runs, int warmups) throws Exception {
        int perRun = 200;
        List<Double> directMedians = new ArrayList<>();
        List<Double> proxyMedians = new ArrayList<>();
        List<Double> ratios = new ArrayList<>();
        List<Double> allDirect = new ArrayList<>();
        List<Double> allProxy = new ArrayList<>();
        for (int r = -warmups; r < runs; r++) {
            double[] dd = new double[perRun];
            double[] pp = new double[perRun];
            double[] greet = new double[perRun];
            for (int i = 0; i < perRun; i++) {
                // alternate within the run too; account 3's pool is warm (min-idle 2)
                if ((i & 1) == 0) {
                    dd[i] = loginDirect(env, 3);
                    pp[i] = loginProxy(d, 3);
                } else {
                    pp[i] = loginProxy(d, 3);
                    dd[i] = loginDirect(env, 3);
                }
                greet[i] = GREETING.get()[0];
            }
            Stats ds = Stats.of(dd);
            Stats ps = Stats.of(pp);
            System.err.printf("imap-login run %d: direct p50 %.0f us, proxy p50 %.0f us (greeting p50 %.0f us)%n", r,
                    ds.median(), ps.median(), Stats.of(greet).median());
            if (r >= 0) {
                directMedians.add(ds.median());
                proxyMedians.add(ps.median());
                ratios.add(ds.median() / ps.median());
                for (int i = 0; i < perRun; i++) {
                    allDirect.add(dd[i]);
                    allProxy.add(pp[i]);
                }
            }
        }
        Stats dm = Stats.of(directMedians);
        Stats pm = Stats.of(proxyMedians);
        Stats rt = Stats.of(ratios);
        Stats da = Stats.of(allDirect);
        Stats pa = Stats.of(allProxy);
        report.line("### IMAP login on a warm pool (issue 4)")
                .line("")
                .line("%d measured runs after %d warm-up runs, %d logins each way per run, alternating. Direct: TCP "
                        + "connect, TLS 1.3 handshake, greeting, `AUTHENTICATE XOAUTH2` (token minted in memory "
                        + "beforehand, so no OAuth round trip is charged to the direct path), tagged OK. Proxy: TCP "
                        + "connect, greeting, `LOGIN` with the local password (Argon2id, verified-login cache warm), "
                        + "lease from the account's warm pool, tagged OK. LOGOUT is outside the clock.",
                        runs, warmups, perRun)
                .line("")
                .line("| figure | median of run medians | spread (min–max of run medians) | p50 all | p99 all |")
                .line("|---|---|---|---|---|")
                .line("| direct TLS connect + XOAUTH2 login | %.0f µs | %.0f–%.0f µs | %.0f µs | %.0f µs |",
                        dm.median(), dm.min(), dm.max(), da.percentile(50), da.percentile(99))
                .line("| login through mailproxy (warm pool) | %.0f µs | %.0f–%.0f µs | %.0f µs | %.0f µs |",
                        pm.median(), pm.min(), pm.max(), pa.percentile(50), pa.percentile(99))
                .line("| direct / proxy | **%.1f×** | %.1f–%.1f× | | |", rt.median(), rt.min(), rt.max())
                .line("");
        report.flush();
    }

    // ---------------------------------------------------------------- IMAP IDLE, 2,000 sessions

    private static void imapIdle(Env env, DaemonProcess d, Report report, int runs) throws Exception {
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

    // ---------------------------------------------------------------- POP3

    private static double retrDirectPop3(Env env) throws IOException {
        try (Wire w = Wire.tls(env.tls, env.pop3s())) {
            Wire.expect(w.line(), "+OK");
            w.send("AUTH XOAUTH2 " + env.xoauth2(Env.user(1)));
            Wire.expect(w.line(), "+OK");
            return timedRetr(w);
        }
    }

    private static double retrProxyPop3(DaemonProcess d, String client) throws IOException {
        try (Wire w = Wire.plain(d.pop3Address())) {
            Wire.expect(w.line(), "+OK");
            w.send("USER " + client);
            Wire.expect(w.line(), "+OK");
            w.send("PASS " + PW);
            Wire.expect(w.line(), "+OK");
            return timedRetr(w);
        }
    }

    private static double timedRetr(Wire w) throws IOException {
        long bytes = 0;
        long t0 = System.nanoTime();
        for (int i = 1; i <= Env.MESSAGES; i++) {
            w.send("RETR " + i);
            Wire.expect(w.line(), "+OK");
            bytes += w.dotTerminated();
        }
        double s = (System.nanoTime() - t0) / 1e9;
        if (bytes < FETCH_BYTES) {
            throw new IOException("RETR gave " + bytes + " octets, expected at least " + FETCH_BYTES);
        }
        w.send("QUIT");
        w.line();
        return s;
    }

    /** Direct IMAP baseline for POP3-over-IMAP: one UID FETCH BODY.PEEK[] per message, as RETR does. */
    private static double fetchEachDirect(Env env) throws IOException {
        try (Wire w = Wire.tls(env.tls, env.imaps())) {
            w.line();
            Wire.expect(w.imap("a", "AUTHENTICATE XOAUTH2 " + env.xoauth2(Env.user(1)), null), "a OK");
            Wire.expect(w.imap("b", "SELECT INBOX", null), "b OK");
            long[] bytes = new long[1];
            long t0 = System.nanoTime();
            for (int i = 1; i <= Env.MESSAGES; i++) {
                Wire.expect(w.imap("f" + i, "UID FETCH " + i + " BODY.PEEK[]", bytes), "f" + i + " OK");
            }
            double s = (System.nanoTime() - t0) / 1e9;
            if (bytes[0] != FETCH_BYTES) {
                throw new IOException("fetched " + bytes[0] + " octets");
            }
            w.imap("z", "LOGOUT", null);
            return s;
        }
    }

    private static void pop3(Env env, DaemonProcess d, Report report, int runs, int warmups) throws Exception {
        double mib = FETCH_BYTES / (1024.0 * 1024.0);
        List<Double> dPop = new ArrayList<>();
        List<Double> pPop = new ArrayList<>();
        List<Double> rPop = new ArrayList<>();
        List<Double> dImap = new ArrayList<>();
        List<Double> pImap = new ArrayList<>();
        List<Double> rImap = new ArrayList<>();
        for (int r = -warmups; r < runs; r++) {
            // each run: FETCH_REPEATS sessions of each kind, order flipping, averaged
            double a = 0;
            double b = 0;
            double c = 0;
            double e = 0;
            for (int k = 0; k < FETCH_REPEATS; k++) {
                if (((r + k) & 1) == 0) {
                    a += retrDirectPop3(env);
                    b += retrProxyPop3(d, Env.client(1));
                    c += fetchEachDirect(env);
                    e += retrProxyPop3(d, Env.imapSourceClient(1));
                } else {
                    e += retrProxyPop3(d, Env.imapSourceClient(1));
                    c += fetchEachDirect(env);
                    b += retrProxyPop3(d, Env.client(1));
                    a += retrDirectPop3(env);
                }
            }
            a /= FETCH_REPEATS;
            b /= FETCH_REPEATS;
            c /= FETCH_REPEATS;
            e /= FETCH_REPEATS;
            System.err.printf("pop3 run %d: direct pop3 %.1f, pass-through %.1f, direct imap %.1f, pop3-over-imap "
                    + "%.1f MiB/s%n", r, mib / a, mib / b, mib / c, mib / e);
            if (r >= 0) {
                dPop.add(mib / a);
                pPop.add(mib / b);
                rPop.add(a / b);
                dImap.add(mib / c);
                pImap.add(mib / e);
                rImap.add(c / e);
            }
        }
        report.line("### POP3 RETR of 30 × 1 MiB (issue 5)")
                .line("")
                .line("%d measured runs after %d warm-up runs; each run averages %d sessions of each kind, in an "
                        + "order that flips from session to session. Login untimed; the 30 `RETR`s "
                        + "(each read to its terminating dot) timed. Pass-through is compared with a direct POP3S "
                        + "client (`AUTH XOAUTH2`); POP3-over-IMAP (`source = imap`) with a direct IMAPS client "
                        + "that fetches the same messages one `UID FETCH n BODY.PEEK[]` each.", runs, warmups,
                        FETCH_REPEATS)
                .line("")
                .line("| path | median (min–max; IQR) over the runs |")
                .line("|---|---|")
                .line("| direct POP3S → Dovecot | %s MiB/s |", Stats.of(dPop).summary("%.1f"))
                .line("| POP3 pass-through via mailproxy | %s MiB/s |", Stats.of(pPop).summary("%.1f"))
                .line("| pass-through / direct | **%s %%** |", pct(rPop))
                .line("| direct IMAPS, one FETCH per message → Dovecot | %s MiB/s |", Stats.of(dImap).summary("%.1f"))
                .line("| POP3-over-IMAP via mailproxy | %s MiB/s |", Stats.of(pImap).summary("%.1f"))
                .line("| POP3-over-IMAP / direct IMAP | **%s %%** |", pct(rImap))
                .line("");
        report.flush();
    }

    private static String pct(List<Double> ratios) {
        List<Double> p = ratios.stream().map(x -> 100 * x).toList();
        return Stats.of(p).summary("%.0f");
    }

    // ---------------------------------------------------------------- SMTP

    private static final int SMTP_CLIENTS = 10;
    private static final int SMTP_MESSAGES = 1000;
    private static final int SMTP_SIZE = 10 * 1024;

    /** One message on a new connection; returns microseconds from connect to the 250 after the final dot. */
    private static double sendDirect(Env env, int account, byte[] body) throws IOException {
        String ir = env.xoauth2(Env.user(account));
        long t0 = System.nanoTime();
        try (Wire w = Wire.plain(env.submission())) {
            Wire.expect(w.smtpReply(), "220");
            w.send("EHLO bench.test");
            Wire.expect(w.smtpReply(), "250");
            w.send("STARTTLS");
            Wire.expect(w.smtpReply(), "220");
            w.startTls(env.tls, env.submission());
            w.send("EHLO bench.test");
            Wire.expect(w.smtpReply(), "250");
            w.send("AUTH XOAUTH2 " + ir);
            Wire.expect(w.smtpReply(), "235");
            return transaction(w, account, body, t0);
        }
    }

    private static double sendProxy(DaemonProcess d, int account, byte[] body) throws IOException {
        long t0 = System.nanoTime();
        try (Wire w = Wire.plain(d.smtpAddress())) {
            Wire.expect(w.smtpReply(), "220");
            w.send("EHLO bench.test");
            Wire.expect(w.smtpReply(), "250");
            w.send("AUTH PLAIN " + Env.plain(Env.client(account), PW));
            Wire.expect(w.smtpReply(), "235");
            return transaction(w, account, body, t0);
        }
    }

    private static double transaction(Wire w, int account, byte[] body, long t0) throws IOException {
        w.send("MAIL FROM:<" + Env.user(account) + ">");
        Wire.expect(w.smtpReply(), "250");
        w.send("RCPT TO:<sink@bench.test>");
        Wire.expect(w.smtpReply(), "250");
        w.send("DATA");
        Wire.expect(w.smtpReply(), "354");
        w.sendRaw(body);
        w.send(".");
        Wire.expect(w.smtpReply(), "250");
        double us = (System.nanoTime() - t0) / 1e3;
        w.send("QUIT");
        w.smtpReply();
        return us;
    }

    /** Sends 1,000 messages from 10 concurrent clients; returns {msgs/s, median per-message µs}. */
    private static double[] smtpRound(ExecutorService pool, Env env, DaemonProcess d, boolean viaProxy)
            throws Exception {
        byte[] body = Messages.message("sink@bench.test", 1, SMTP_SIZE);
        List<Double> latencies = Collections.synchronizedList(new ArrayList<>());
        long sinkBefore = env.sink.delivered.get();
        long t0 = System.nanoTime();
        List<Future<?>> jobs = new ArrayList<>();
        for (int c = 1; c <= SMTP_CLIENTS; c++) {
            int account = c;
            jobs.add(pool.submit(() -> {
                for (int i = 0; i < SMTP_MESSAGES / SMTP_CLIENTS; i++) {
                    latencies.add(viaProxy ? sendProxy(d, account, body) : sendDirect(env, account, body));
                }
                return null;
            }));
        }
        for (Future<?> f : jobs) {
            f.get();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        long delivered = env.sink.delivered.get() - sinkBefore;
        if (delivered != SMTP_MESSAGES) {
            throw new IOException("the relay sink received " + delivered + " messages, expected " + SMTP_MESSAGES);
        }
        return new double[] {SMTP_MESSAGES / seconds, Stats.of(latencies).median()};
    }

    private static void smtp(Env env, DaemonProcess d, Report report, int runs, int warmups) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(SMTP_CLIENTS);
        List<Double> dRate = new ArrayList<>();
        List<Double> pRate = new ArrayList<>();
        List<Double> ratio = new ArrayList<>();
        List<Double> dLat = new ArrayList<>();
        List<Double> pLat = new ArrayList<>();
        List<Double> saved = new ArrayList<>();
        try {
            for (int r = -warmups; r < runs; r++) {
                double[] dir;
                double[] prx;
                if ((r & 1) == 0) {
                    dir = smtpRound(pool, env, d, false);
                    prx = smtpRound(pool, env, d, true);
                } else {
                    prx = smtpRound(pool, env, d, true);
                    dir = smtpRound(pool, env, d, false);
                }
                System.err.printf("smtp run %d: direct %.0f msg/s (p50 %.0f us), proxy %.0f msg/s (p50 %.0f us)%n",
                        r, dir[0], dir[1], prx[0], prx[1]);
                if (r >= 0) {
                    dRate.add(dir[0]);
                    pRate.add(prx[0]);
                    ratio.add(prx[0] / dir[0]);
                    dLat.add(dir[1] / 1000);
                    pLat.add(prx[1] / 1000);
                    saved.add((dir[1] - prx[1]) / 1000);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        report.line("### SMTP: 1,000 messages of 10 KiB from 10 concurrent clients (issue 6)")
                .line("")
                .line("%d measured runs after %d warm-up runs; order flips each run. Every message on a new client "
                        + "connection. Direct: connect, EHLO, STARTTLS, JDK TLS 1.3 handshake, EHLO, "
                        + "`AUTH XOAUTH2` (token minted in memory beforehand), MAIL, RCPT, DATA, 250, QUIT. Proxy: "
                        + "connect, EHLO, `AUTH PLAIN` (local password), MAIL, RCPT, DATA, 250, QUIT; the proxy "
                        + "leases a pooled, authenticated STARTTLS connection per transaction (`pool.smtp.max = "
                        + "3` as for Office 365, one account per client). Dovecot's submission service relays every message to a "
                        + "sink on loopback; the run checks that the sink received all 1,000.", runs, warmups)
                .line("")
                .line("| figure | median (min–max; IQR) over the runs |")
                .line("|---|---|")
                .line("| direct: messages/s | %s |", Stats.of(dRate).summary("%.0f"))
                .line("| via mailproxy: messages/s | %s |", Stats.of(pRate).summary("%.0f"))
                .line("| proxy / direct | **%s×** |", Stats.of(ratio).summary("%.2f"))
                .line("| direct: per-message time (median) | %s ms |", Stats.of(dLat).summary("%.2f"))
                .line("| via mailproxy: per-message time (median) | %s ms |", Stats.of(pLat).summary("%.2f"))
                .line("| per-message time saved | %s ms |", Stats.of(saved).summary("%.2f"))
                .line("");
        report.flush();
    }
}
