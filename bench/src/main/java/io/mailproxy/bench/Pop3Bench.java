package io.mailproxy.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Issue 5, {@code pop3}: 30 {@code RETR}s through the daemon, passed through to POP3S and served over IMAP
 * ({@code source = imap}), each against the direct client it stands in for.
 */
final class Pop3Bench {

    private static final String PW = Env.CLIENT_PASSWORD;

    private Pop3Bench() {
    }

    static double retrDirectPop3(Env env) throws IOException {
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
        if (bytes < ProxyBench.FETCH_BYTES) {
            throw new IOException("RETR gave " + bytes + " octets, expected at least " + ProxyBench.FETCH_BYTES);
        }
        w.send("QUIT");
        w.line();
        return s;
    }

    /** Direct IMAP baseline for POP3-over-IMAP: one UID FETCH BODY.PEEK[] per message, as RETR does. */
    static double fetchEachDirect(Env env) throws IOException {
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
            if (bytes[0] != ProxyBench.FETCH_BYTES) {
                throw new IOException("fetched " + bytes[0] + " octets");
            }
            w.imap("z", "LOGOUT", null);
            return s;
        }
    }

    static void run(Env env, DaemonProcess d, Report report, int runs, int warmups) throws Exception {
        double mib = ProxyBench.FETCH_BYTES / (1024.0 * 1024.0);
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
            for (int k = 0; k < ProxyBench.FETCH_REPEATS; k++) {
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
            a /= ProxyBench.FETCH_REPEATS;
            b /= ProxyBench.FETCH_REPEATS;
            c /= ProxyBench.FETCH_REPEATS;
            e /= ProxyBench.FETCH_REPEATS;
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
                        ProxyBench.FETCH_REPEATS)
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
}
