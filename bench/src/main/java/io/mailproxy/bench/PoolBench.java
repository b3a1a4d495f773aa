package io.mailproxy.bench;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.credentials.DefaultUpstreamCredentials;
import io.mailproxy.core.credentials.FileSecretStore;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.credentials.TokenService;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.PoolRegistry;
import io.mailproxy.core.runtime.Transport;
import io.mailproxy.core.tls.ClientTls;
import io.mailproxy.core.upstream.NettyUpstreamConnector;
import io.mailproxy.core.upstream.UpstreamSession;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Issue 3: a lease from a warm pool ({@code PoolRegistry.acquire} + {@code release}) against a fresh TLS connect
 * plus XOAUTH2 login ({@code NettyUpstreamConnector.connect}: TCP, TLS, greeting, CAPABILITY, AUTHENTICATE, NOOP)
 * to the same Dovecot, both in this process, interleaved run by run.
 */
final class PoolBench {

    private PoolBench() {
    }

    static void run(Env env, Report report, int runs, int warmups) throws Exception {
        int leasesPerRun = 2000;
        int connectsPerRun = 100;
        MailproxyConfig config = ConfigLoader.parse(ProxyConfig.hocon(env, 0, 0, 0, 8, 4), "bench pool config");
        AccountConfig account = config.accounts().get(Env.user(2));
        Clock clock = Clock.systemUTC();
        Transport transport = Transport.detect();
        EventLoopGroup group = transport.newEventLoopGroup(2, "bench-io");
        ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(1);
        ExecutorService blocking = Executors.newCachedThreadPool();
        FileSecretStore store = FileSecretStore.open(env.scratch.resolve("state-pool"), Map.of());
        TokenService tokens = TokenService.builder(store).executor(blocking).scheduler(Scheduler.of(scheduler))
                .clock(clock).build();
        DefaultUpstreamCredentials credentials = new DefaultUpstreamCredentials(config.oauth2(), store, tokens,
                blocking, clock);
        NettyUpstreamConnector connector = new NettyUpstreamConnector(group, transport.socketChannelClass(),
                () -> config, credentials, new ClientTls(), clock);
        PoolRegistry pools = new PoolRegistry(connector, () -> config, clock, scheduler, new SimpleMeterRegistry());
        try {
            // warm: fill the pool to min-idle and fetch the token once
            List<Lease> held = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                held.add(pools.acquire(account, Protocol.IMAP).get(30, TimeUnit.SECONDS));
            }
            held.forEach(l -> l.release(false));
            Thread.sleep(500);

            List<Double> leaseMedians = new ArrayList<>();
            List<Double> connectMedians = new ArrayList<>();
            List<Double> ratios = new ArrayList<>();
            List<Double> allLease = new ArrayList<>();
            List<Double> acquireMedians = new ArrayList<>();
            List<Double> allConnect = new ArrayList<>();
            for (int r = -warmups; r < runs; r++) {
                double[] lease = new double[leasesPerRun];
                double[] acquire = new double[leasesPerRun];
                for (int i = 0; i < leasesPerRun; i++) {
                    long t0 = System.nanoTime();
                    Lease l = pools.acquire(account, Protocol.IMAP).get(30, TimeUnit.SECONDS);
                    acquire[i] = (System.nanoTime() - t0) / 1e3;
                    l.release(false);
                    lease[i] = (System.nanoTime() - t0) / 1e3;
                }
                double[] connect = new double[connectsPerRun];
                for (int i = 0; i < connectsPerRun; i++) {
                    long t0 = System.nanoTime();
                    UpstreamSession s = connector.connect(account, Protocol.IMAP, null).get(30, TimeUnit.SECONDS);
                    connect[i] = (System.nanoTime() - t0) / 1e3;
                    s.channel().close().sync();
                }
                Stats ls = Stats.of(lease);
                Stats cs = Stats.of(connect);
                System.err.printf("pool run %d: lease median %.1f us, connect median %.1f us%n", r, ls.median(),
                        cs.median());
                if (r >= 0) {
                    leaseMedians.add(ls.median());
                    acquireMedians.add(Stats.of(acquire).median());
                    connectMedians.add(cs.median());
                    ratios.add(cs.median() / ls.median());
                    for (double d : lease) {
                        allLease.add(d);
                    }
                    for (double d : connect) {
                        allConnect.add(d);
                    }
                }
            }
            Stats lm = Stats.of(leaseMedians);
            Stats am = Stats.of(acquireMedians);
            Stats cm = Stats.of(connectMedians);
            Stats rt = Stats.of(ratios);
            Stats la = Stats.of(allLease);
            Stats ca = Stats.of(allConnect);
            report.line("### Pool lease vs fresh connect (issue 3)")
                    .line("")
                    .line("%d measured runs after %d warm-up runs; each run: %d sequential leases (acquire + release) "
                            + "then %d sequential fresh connects (TLS + XOAUTH2 + NOOP) of account %s.",
                            runs, warmups, leasesPerRun, connectsPerRun, account.name())
                    .line("")
                    .line("| figure | median of run medians | spread (min–max of run medians) | p99 over all samples |")
                    .line("|---|---|---|---|")
                    .line("| warm-pool lease (acquire + release) | %.1f µs | %.1f–%.1f µs | %.1f µs |",
                            lm.median(), lm.min(), lm.max(), la.percentile(99))
                    .line("| of which acquire (until the future completes) | %.1f µs | %.1f–%.1f µs | |",
                            am.median(), am.min(), am.max())
                    .line("| fresh TLS connect + XOAUTH2 login | %.0f µs | %.0f–%.0f µs | %.0f µs |",
                            cm.median(), cm.min(), cm.max(), ca.percentile(99))
                    .line("| ratio connect / lease | **%.0f×** | %.0f–%.0f× | |", rt.median(), rt.min(), rt.max())
                    .line("");
            report.flush();
        } finally {
            pools.close();
            tokens.close();
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
            scheduler.shutdownNow();
            blocking.shutdownNow();
        }
    }
}
