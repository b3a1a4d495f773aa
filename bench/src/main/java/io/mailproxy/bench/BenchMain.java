package io.mailproxy.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code BenchMain NAME... [--runs N] [--warmups N] [--jar mailproxy.jar] [--results DIR]}: starts Dovecot and the
 * identity provider, runs the named benchmarks (pool, imap-fetch, imap-login, imap-idle, pop3, smtp, imap-hostile,
 * or all; graph-smtp and graph-pop3, against testkit's fake Microsoft Graph, only when named), prints Markdown
 * tables and appends them to DIR/NAME.md, and stops everything it started. {@code queue}
 * (the SMTP store-and-forward queue, in-process) runs alone and prints its figures only. {@code ha-kill} (two
 * daemons behind HAProxy, one killed) runs alone, 3 runs unless {@code --runs} says otherwise; it has no warm-up.
 */
public final class BenchMain {

    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        int runs = 7;
        boolean runsGiven = false;
        int warmups = 2;
        Path jar = Path.of("proxy-daemon/target/mailproxy.jar");
        Path results = Path.of("bench/results");
        List<String> names = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--runs" -> {
                    runs = Integer.parseInt(args[++i]);
                    runsGiven = true;
                }
                case "--warmups" -> warmups = Integer.parseInt(args[++i]);
                case "--jar" -> jar = Path.of(args[++i]);
                case "--results" -> results = Path.of(args[++i]);
                default -> names.add(args[i]);
            }
        }
        if (names.isEmpty() || names.contains("all")) {
            names = List.of("pool", "imap-fetch", "imap-login", "imap-idle", "pop3", "smtp", "imap-hostile");
        }
        if (names.stream().anyMatch(n -> n.startsWith("graph-"))) {
            // The fake Graph is a JDK HttpsServer, which leaves Nagle on by default: the last TLS record of each
            // answer then waits for the client's delayed ACK, 10-15 ms a request on loopback, which no real Graph
            // front end adds. Read once per JVM (before the first HttpServer, the identity provider's, starts), so
            // it holds for every benchmark of this invocation.
            System.setProperty("sun.net.httpserver.nodelay", "true");
        }
        boolean haKill = names.equals(List.of("ha-kill"));
        if (haKill && !runsGiven) {
            runs = 3;
        }
        if (runs < (haKill ? 1 : 5)) {
            throw new IllegalArgumentException("at least 5 runs");
        }
        if (names.equals(List.of("queue"))) {
            // in-process, no upstream: neither Dovecot nor the identity provider is started
            io.mailproxy.smtp.QueueBench.main(new String[] {String.valueOf(runs)});
            System.exit(0);
        }
        Path scratch = Files.createTempDirectory("mailproxy-bench-");
        System.err.println("scratch directory " + scratch);
        try (Env env = Env.start(scratch)) {
            for (String name : names) {
                Report report = new Report(results, name);
                String load = Files.readString(Path.of("/proc/loadavg")).trim();
                report.line("<!-- %s, started %s UTC, load average before: %s -->", name,
                        java.time.LocalDateTime.now(java.time.ZoneOffset.UTC).withNano(0), load);
                switch (name) {
                    case "pool" -> PoolBench.run(env, report, runs, warmups);
                    case "direct-check" -> ProxyBench.directCheck(env);
                    case "direct-idle" -> ProxyBench.directIdle(env);
                    case "imap-hostile" -> HostileBench.run(env, report, jar, runs, warmups);
                    case "graph-smtp" -> GraphSmtpBench.run(env, jar, report, runs, warmups);
                    case "graph-pop3" -> GraphPop3Bench.run(env, jar, report, runs, warmups);
                    case "ha-kill" -> HaKillBench.run(env, report, jar, runs);
                    case "imap-fetch", "imap-login", "imap-idle", "pop3", "smtp" ->
                            ProxyBench.run(name, env, report, jar, runs, warmups);
                    default -> throw new IllegalArgumentException("unknown benchmark " + name);
                }
                report.line("<!-- %s ended %s UTC, load average after: %s -->", name,
                        java.time.LocalDateTime.now(java.time.ZoneOffset.UTC).withNano(0),
                        Files.readString(Path.of("/proc/loadavg")).trim());
                report.line("");
                report.flush();
            }
        }
        System.exit(0); // the Netty and HTTP server threads of a finished benchmark must not keep the JVM alive
    }
}
