package io.mailproxy.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Issue 4, {@code imap-fetch}: {@code UID FETCH 1:* BODY.PEEK[]} of the 30 messages, direct against Dovecot and
 * through the daemon, sessions alternating within each run.
 */
final class ImapFetchBench {

    private static final String PW = Env.CLIENT_PASSWORD;

    private ImapFetchBench() {
    }

    /** Seconds for UID FETCH 1:* BODY.PEEK[] of the 30 messages, after login and SELECT. */
    static double fetchDirect(Env env) throws IOException {
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
        if (bytes[0] != ProxyBench.FETCH_BYTES) {
            throw new IOException("fetched " + bytes[0] + " literal octets, expected " + ProxyBench.FETCH_BYTES);
        }
        return s;
    }

    static void run(Env env, DaemonProcess d, Report report, int runs, int warmups) throws Exception {
        List<Double> direct = new ArrayList<>();
        List<Double> proxy = new ArrayList<>();
        List<Double> ratio = new ArrayList<>();
        double mib = ProxyBench.FETCH_BYTES / (1024.0 * 1024.0);
        for (int r = -warmups; r < runs; r++) {
            // each run: FETCH_REPEATS sessions each way, alternating, summed (one 30 MiB fetch is ~0.3 s)
            double sd = 0;
            double sp = 0;
            for (int k = 0; k < ProxyBench.FETCH_REPEATS; k++) {
                if (((r + k) & 1) == 0) {
                    sd += fetchDirect(env);
                    sp += fetchProxy(d);
                } else {
                    sp += fetchProxy(d);
                    sd += fetchDirect(env);
                }
            }
            sd /= ProxyBench.FETCH_REPEATS;
            sp /= ProxyBench.FETCH_REPEATS;
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
                        runs, warmups, ProxyBench.FETCH_REPEATS)
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
}
