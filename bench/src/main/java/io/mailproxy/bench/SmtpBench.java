package io.mailproxy.bench;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Issue 6, {@code smtp}: 1,000 messages of 10 KiB from 10 concurrent clients, each on a new connection, direct to
 * Dovecot's submission service and through the daemon's pooled upstream connections.
 */
final class SmtpBench {

    private static final String PW = Env.CLIENT_PASSWORD;

    private SmtpBench() {
    }

    private static final int SMTP_CLIENTS = 10;
    private static final int SMTP_MESSAGES = 1000;
    static final int SMTP_SIZE = 10 * 1024;

    /** One message on a new connection; returns microseconds from connect to the 250 after the final dot. */
    static double sendDirect(Env env, int account, byte[] body) throws IOException {
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

    static void run(Env env, DaemonProcess d, Report report, int runs, int warmups) throws Exception {
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
