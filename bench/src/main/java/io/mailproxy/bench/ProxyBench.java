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
 *
 * <p>This class starts the daemon each benchmark needs and holds what they share; the benchmarks themselves are
 * {@link ImapFetchBench}, {@link ImapLoginBench}, {@link ImapIdleBench}, {@link Pop3Bench} and {@link SmtpBench}.
 */
final class ProxyBench {

    /** The octets of the 30 messages of each mailbox; a FETCH of them all, or 30 RETRs, must deliver as many. */
    static final long FETCH_BYTES = (long) Env.MESSAGES * Env.MESSAGE_SIZE;
    /** Sessions each way in one run of imap-fetch and pop3 (one 30 MiB fetch is ~0.3 s). */
    static final int FETCH_REPEATS = 3;

    private ProxyBench() {
    }

    static void run(String name, Env env, Report report, Path jar, int runs, int warmups) throws Exception {
        switch (name) {
            case "imap-fetch" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 8, 1, "imap")) {
                    ImapFetchBench.run(env, d, report, runs, warmups);
                }
            }
            case "imap-login" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 8, 2, "imap")) {
                    ImapLoginBench.run(env, d, report, runs, warmups);
                }
            }
            case "imap-idle" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 100, 1, "imap")) {
                    ImapIdleBench.run(env, d, report, runs);
                }
            }
            case "pop3" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 8, 1, "pop3")) {
                    Pop3Bench.run(env, d, report, runs, warmups);
                }
            }
            case "smtp" -> {
                try (DaemonProcess d = DaemonProcess.start(env, jar, name, 8, 1, "smtp")) {
                    SmtpBench.run(env, d, report, runs, warmups);
                }
            }
            default -> throw new IllegalArgumentException(name);
        }
    }

    /** Runs each direct client once against Dovecot and prints what it measured (checks the harness itself). */
    static void directCheck(Env env) throws Exception {
        double mib = FETCH_BYTES / (1024.0 * 1024.0);
        System.out.printf("direct IMAP FETCH: %.1f MiB/s%n", mib / ImapFetchBench.fetchDirect(env));
        System.out.printf("direct IMAP login: %.0f us%n", ImapLoginBench.loginDirect(env, 3));
        System.out.printf("direct POP3 RETR: %.1f MiB/s%n", mib / Pop3Bench.retrDirectPop3(env));
        System.out.printf("direct IMAP FETCH each: %.1f MiB/s%n", mib / Pop3Bench.fetchEachDirect(env));
        byte[] body = Messages.message("sink@bench.test", 1, SmtpBench.SMTP_SIZE);
        System.out.printf("direct SMTP message: %.0f us, sink has %d%n", SmtpBench.sendDirect(env, 2, body),
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
}
