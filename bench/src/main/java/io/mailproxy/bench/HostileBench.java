package io.mailproxy.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Issue 9, "every other session unaffected": the IMAP FETCH of {@code imap-fetch} (30 × 1 MiB, {@code UID FETCH 1:*
 * BODY.PEEK[]}) by a well-behaved client, direct and through the daemon, alone and under hostile load against the
 * daemon: {@value #SILENT} silent TCP connections (opened once per benchmark), {@value HostileLoad#IMAP_FLOODS}
 * logged-in IMAP sessions sending 1 MB command lines, {@value HostileLoad#SMTP_FLOODS} logged-in SMTP sessions in a
 * DATA that never ends.
 *
 * <p>The well-behaved sessions (one direct, one proxied) log in and SELECT once, before any hostile client, and
 * stay open: while the silent connections take all of the daemon's pre-login slots ({@code
 * limits.max-unauthenticated}), a new client could not log in at all, so a session opened per fetch would measure
 * the refusal, not the throughput. Whether a new login gets through is probed once per loaded phase and reported.
 */
final class HostileBench {

    static final int SILENT = 10_000;
    private static final int REPEATS = 3;
    /** How long the floods run before the first loaded fetch is timed. */
    private static final long RAMP_MS = 1000;

    private HostileBench() {
    }

    static void run(Env env, Report report, Path jar, int runs, int warmups) throws Exception {
        try (DaemonProcess d = DaemonProcess.start(env, jar, "imap-hostile", 8, 1, "imap", "pop3", "smtp");
                Wire direct = Wire.tls(env.tls, env.imaps());
                Wire proxy = Wire.plain(d.imapAddress())) {
            direct.line();
            Wire.expect(direct.imap("a", "AUTHENTICATE XOAUTH2 " + env.xoauth2(Env.user(1)), null), "a OK");
            Wire.expect(direct.imap("b", "SELECT INBOX", null), "b OK");
            proxy.line();
            Wire.expect(proxy.imap("a", "LOGIN " + Env.client(1) + " " + Env.CLIENT_PASSWORD, null), "a OK");
            Wire.expect(proxy.imap("b", "SELECT INBOX", null), "b OK");
            measure(env, d, direct, proxy, report, runs, warmups);
        }
    }

    private static void measure(Env env, DaemonProcess d, Wire direct, Wire proxy, Report report, int runs,
            int warmups) throws Exception {
        double mib = ProxyBench.FETCH_BYTES / (1024.0 * 1024.0);
        List<Double> dAlone = new ArrayList<>();
        List<Double> pAlone = new ArrayList<>();
        List<Double> dLoad = new ArrayList<>();
        List<Double> pLoad = new ArrayList<>();
        List<Double> loadVsDirect = new ArrayList<>();
        List<Double> loadVsAlone = new ArrayList<>();
        List<Double> aloneVsDirect = new ArrayList<>();
        List<Double> directLoadVsAlone = new ArrayList<>();
        List<Double> heapBefore = new ArrayList<>();
        List<Double> heapLoad = new ArrayList<>();
        List<Double> rssBefore = new ArrayList<>();
        List<Double> rssLoad = new ArrayList<>();
        List<String> rows = new ArrayList<>();
        int[] tag = {0};
        HostileLoad.Silent silent = null;
        long imapLines = 0;
        long imapMb = 0;
        long smtpMb = 0;
        double loadSeconds = 0;
        String silentFacts = "";
        HostileLoad load = HostileLoad.start(d);
        try {
            for (int r = -warmups; r < runs; r++) {
                boolean directFirst = (r & 1) == 0;
                double[] alone = pair(direct, proxy, directFirst, tag);
                long hb = d.heapUsedAfterGcKiB();
                long rb = d.rssKiB();

                long imapBefore = load.imapBytes.get();
                long smtpBefore = load.smtpBytes.get();
                long badBefore = load.imapBad.get();
                long t0 = System.nanoTime();
                load.resume();
                if (silent == null) {
                    silent = HostileLoad.Silent.open(SILENT, d.imapAddress(), d.pop3Address(), d.smtpAddress());
                    System.err.printf("imap-hostile: %d silent connections opened in %.1f s (%d failed: %s)%n",
                            silent.channels.size(), silent.seconds, silent.failed, silent.firstFailure());
                    silentFacts = String.format(java.util.Locale.ROOT, "%,d of %,d connected in %.1f s (%d connects "
                            + "failed%s); right after the last connect, %,d were not yet closed by the daemon",
                            silent.channels.size(), SILENT, silent.seconds, silent.failed,
                            silent.failed > 0 ? ", first: " + silent.firstFailure() : "", silent.held());
                }
                Thread.sleep(RAMP_MS);
                int held = silent.held();
                String probe = probeLogin(d);
                double[] loaded = pair(direct, proxy, directFirst, tag);
                long rl = d.rssKiB();
                long hl = d.heapUsedAfterGcKiB();
                load.pause();
                double seconds = (System.nanoTime() - t0) / 1e9;
                long lines = load.imapBad.get() - badBefore;
                long imapBytes = load.imapBytes.get() - imapBefore;
                long smtpBytes = load.smtpBytes.get() - smtpBefore;

                System.err.printf("imap-hostile run %d: alone direct %.1f proxy %.1f, loaded direct %.1f proxy %.1f "
                        + "MiB/s; heap %d -> %d KiB, rss %d -> %d KiB; silent held %d; floods %d lines BAD, "
                        + "IMAP %d MiB, SMTP %d MiB in %.1f s; reconnects %d (stalled %d), failed logins %d; "
                        + "probe: %s%n", r, mib / alone[0], mib / alone[1], mib / loaded[0], mib / loaded[1], hb, hl,
                        rb, rl, held, lines, imapBytes >> 20, smtpBytes >> 20, seconds, load.reconnects.get(),
                        load.stalls.get(), load.loginFailures.get(), probe);
                if (r >= 0) {
                    dAlone.add(mib / alone[0]);
                    pAlone.add(mib / alone[1]);
                    dLoad.add(mib / loaded[0]);
                    pLoad.add(mib / loaded[1]);
                    loadVsDirect.add(100 * loaded[0] / loaded[1]);
                    loadVsAlone.add(100 * alone[1] / loaded[1]);
                    aloneVsDirect.add(100 * alone[0] / alone[1]);
                    directLoadVsAlone.add(100 * alone[0] / loaded[0]);
                    heapBefore.add(hb / 1024.0);
                    heapLoad.add(hl / 1024.0);
                    rssBefore.add(rb / 1024.0);
                    rssLoad.add(rl / 1024.0);
                    imapLines += lines;
                    imapMb += imapBytes >> 20;
                    smtpMb += smtpBytes >> 20;
                    loadSeconds += seconds;
                    rows.add(String.format(java.util.Locale.ROOT,
                            "| %d | %.1f | %.1f | %.1f | %.1f | %d | %d | %.0f / %.0f | %.0f | %s |", r + 1,
                            mib / alone[0], mib / alone[1], mib / loaded[0], mib / loaded[1], held, lines,
                            imapBytes / seconds / (1 << 20), smtpBytes / seconds / (1 << 20), seconds, probe));
                }
            }
        } finally {
            int alive = load.stop();
            if (silent != null) {
                silent.close();
            }
            if (alive > 0) {
                throw new IllegalStateException(alive + " hostile client threads did not stop");
            }
        }
        System.err.println("imap-hostile: all hostile client threads stopped");
        Stats da = Stats.of(dAlone);
        Stats pa = Stats.of(pAlone);
        Stats dl = Stats.of(dLoad);
        Stats pl = Stats.of(pLoad);
        report.line("### A well-behaved IMAP FETCH under hostile load (issue 9)")
                .line("")
                .line("%d measured runs after %d warm-up run%s. The well-behaved client fetches 30 × 1 MiB (`UID "
                        + "FETCH 1:* BODY.PEEK[]`, timed to the tagged OK, 31,457,280 literal octets checked), %d "
                        + "times each way per phase, direct and proxied alternating (which goes first flips each run); "
                        + "a phase's figure is the mean. Both of its sessions (direct: JDK TLS 1.3, `AUTHENTICATE "
                        + "XOAUTH2`; proxied: `LOGIN` to mailproxy) log in and SELECT once, before any hostile "
                        + "client, and stay open for the whole benchmark. Each run: the alone phase, then the "
                        + "hostile load is switched on, %d ms later the loaded phase, then the load is switched "
                        + "off. Hostile load, all against the daemon's listeners (`limits { max-connections = "
                        + "2500, max-unauthenticated = 200 }` as in every benchmark here; IMAP `login-timeout` and "
                        + "SMTP `pre-login-timeout` at their 60 s defaults): %,d raw TCP connections opened once "
                        + "(at the first loaded phase, round robin over the IMAP, POP3 and SMTP listeners) and "
                        + "never written to; %d logged-in IMAP sessions each sending `f SEARCH TEXT xxx…` lines of "
                        + "1,000,000 octets in a loop, reading the `BAD` before the next; %d logged-in SMTP "
                        + "sessions in a DATA that never ends (MAIL, RCPT, DATA, a two-line header, then 1000-octet "
                        + "lines; a session the daemon answers or closes is replaced by a new one). Daemon memory: "
                        + "heap used after a full GC (`jcmd GC.run`, `GC.heap_info`; daemon JVM `%s`) and RSS "
                        + "(/proc VmRSS), at the end of each phase.", runs, warmups, warmups == 1 ? "" : "s", REPEATS,
                        RAMP_MS, SILENT, HostileLoad.IMAP_FLOODS, HostileLoad.SMTP_FLOODS, DaemonProcess.JVM_HEAP)
                .line("")
                .line("| figure | median | IQR (p25–p75) | min–max |")
                .line("|---|---|---|---|")
                .line("%s", row("direct JDK TLS 1.3 → Dovecot, alone", da, "MiB/s", 1, false))
                .line("%s", row("plaintext → mailproxy → TLS → Dovecot, alone", pa, "MiB/s", 1, false))
                .line("%s", row("direct, under hostile load", dl, "MiB/s", 1, false))
                .line("%s", row("through mailproxy, under hostile load", pl, "MiB/s", 1, false))
                .line("%s", row("proxy under load / direct under load (per run)", Stats.of(loadVsDirect), "%", 0,
                        true))
                .line("%s", row("proxy under load / proxy alone (per run)", Stats.of(loadVsAlone), "%", 0,
                        true))
                .line("%s", row("for reference: direct under load / direct alone (per run)",
                        Stats.of(directLoadVsAlone), "%", 0, false))
                .line("%s", row("for reference: proxy alone / direct alone (per run)", Stats.of(aloneVsDirect),
                        "%", 0, false))
                .line("%s", row("daemon heap used after GC, before load", Stats.of(heapBefore), "MiB", 1, false))
                .line("%s", row("daemon heap used after GC, under load", Stats.of(heapLoad), "MiB", 1, false))
                .line("%s", row("daemon RSS, before load", Stats.of(rssBefore), "MiB", 0, false))
                .line("%s", row("daemon RSS, under load", Stats.of(rssLoad), "MiB", 0, false))
                .line("")
                .line("Per run (MiB/s; silent = of the %,d silent connections, those the daemon still held open "
                        + "when the loaded phase began; IMAP / SMTP flood = what the floods got the daemon to read, "
                        + "in MiB/s over the loaded phase; probe = a new proxied connection and `LOGIN` tried "
                        + "during the loaded phase):", SILENT)
                .line("")
                .line("| run | direct alone | proxy alone | direct loaded | proxy loaded | silent held | 1 MB lines "
                        + "answered BAD | IMAP / SMTP flood MiB/s | loaded phase s | probe login |")
                .line("|---|---|---|---|---|---|---|---|---|---|");
        rows.forEach(x -> report.line("%s", x));
        report.line("")
                .line("Silent connections: %s.", silentFacts)
                .line("")
                .line("Hostile totals over the measured runs: %,d command lines of 1 MB answered `BAD` (%,d MiB), "
                        + "%,d MiB of never-ending DATA, in %.0f s of load; flood sessions replaced %d times, of "
                        + "which %d because the daemon had stopped reading them for 10 s without closing them "
                        + "(last: %s); replacement logins that failed %d (last: %s); last IMAP reply `%s`, last SMTP "
                        + "answer `%s`.", imapLines, imapMb, smtpMb, loadSeconds, load.reconnects.get(),
                        load.stalls.get(), load.lastStall.isEmpty() ? "none" : load.lastStall,
                        load.loginFailures.get(), load.lastLoginFailure.isEmpty() ? "none" : load.lastLoginFailure,
                        load.lastImapReply, load.lastSmtpAnswer.isEmpty() ? "none" : load.lastSmtpAnswer)
                .line("");
        report.flush();
    }

    /** Times one FETCH on each session, in the given order; returns {direct s, proxy s}, each the mean of REPEATS. */
    private static double[] pair(Wire direct, Wire proxy, boolean directFirst, int[] tag) throws IOException {
        double sd = 0;
        double sp = 0;
        for (int k = 0; k < REPEATS; k++) {
            String t = "c" + tag[0]++;
            if (directFirst == ((k & 1) == 0)) {
                sd += ImapFetchBench.timedFetch(direct, t);
                sp += ImapFetchBench.timedFetch(proxy, t);
            } else {
                sp += ImapFetchBench.timedFetch(proxy, t);
                sd += ImapFetchBench.timedFetch(direct, t);
            }
        }
        return new double[] {sd / REPEATS, sp / REPEATS};
    }

    /** A new connection and LOGIN through the daemon: "OK", or what the daemon said instead. */
    private static String probeLogin(DaemonProcess d) {
        try (Wire w = Wire.plain(d.imapAddress())) {
            String greeting = w.line();
            if (!greeting.startsWith("* OK")) {
                return "refused: `" + greeting + "`";
            }
            String reply = w.imap("a", "LOGIN " + Env.client(8) + " " + Env.CLIENT_PASSWORD, null);
            if (!reply.startsWith("a OK")) {
                return "`" + reply + "`";
            }
            w.imap("z", "LOGOUT", null);
            return "OK";
        } catch (IOException e) {
            return "failed: " + e.getMessage();
        }
    }

    /** A table row in imap-fetch's style: median with its unit, then IQR and min–max (percentages keep the sign). */
    private static String row(String label, Stats s, String unit, int decimals, boolean bold) {
        String fmt = "%." + decimals + "f";
        boolean pct = unit.equals("%");
        String median = String.format(java.util.Locale.ROOT, fmt, s.median()) + (pct ? "%" : " " + unit);
        String tail = pct ? "%" : "";
        return String.format(java.util.Locale.ROOT, "| %s | %s | " + fmt + "–" + fmt + "%s | " + fmt + "–" + fmt
                + "%s |", label, bold ? "**" + median + "**" : median, s.percentile(25), s.percentile(75), tail,
                s.min(), s.max(), tail);
    }
}
