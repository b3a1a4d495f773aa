package io.mailproxy.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Issue 4, {@code imap-login}: connect to tagged OK of the login, a direct TLS 1.3 connect with {@code AUTHENTICATE
 * XOAUTH2} against a {@code LOGIN} through the daemon that leases from a warm pool, alternating login by login.
 */
final class ImapLoginBench {

    private static final String PW = Env.CLIENT_PASSWORD;

    private ImapLoginBench() {
    }

    /** Microseconds from connect to the tagged OK of AUTHENTICATE XOAUTH2 (token minted before the clock starts). */
    static double loginDirect(Env env, int account) throws IOException {
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

    static void run(Env env, DaemonProcess d, Report report, int runs, int warmups) throws Exception {
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
}
