package io.mailproxy.daemon;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.credentials.DefaultUpstreamCredentials;
import io.mailproxy.core.credentials.FileSecretStore;
import io.mailproxy.core.credentials.TokenService;
import io.mailproxy.core.identity.LocalAuthenticator;
import io.mailproxy.core.identity.LocalIdentities;
import io.mailproxy.core.pool.PoolRegistry;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.runtime.ServerRuntime;
import io.mailproxy.core.runtime.Transport;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.FrontendFactory;
import io.mailproxy.core.tls.ClientTls;
import io.mailproxy.core.upstream.NettyUpstreamConnector;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The assembled daemon: core services, the frontends found on the class path, and the listeners. */
public final class Daemon implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    private final AtomicReference<MailproxyConfig> config;
    private final EventLoopGroup workers;
    private final ScheduledExecutorService scheduler;
    private final ExecutorService blocking;
    private final TokenService tokens;
    private final PoolRegistry pools;
    private final LocalIdentities identities;
    private final ServerRuntime runtime;
    private final PrometheusMeterRegistry meters;

    private Daemon(AtomicReference<MailproxyConfig> config, EventLoopGroup workers, ScheduledExecutorService scheduler,
                   ExecutorService blocking, TokenService tokens, PoolRegistry pools, LocalIdentities identities,
                   ServerRuntime runtime, PrometheusMeterRegistry meters) {
        this.config = config;
        this.workers = workers;
        this.scheduler = scheduler;
        this.blocking = blocking;
        this.tokens = tokens;
        this.pools = pools;
        this.identities = identities;
        this.runtime = runtime;
        this.meters = meters;
    }

    /** Builds everything and binds the listeners; a secret or token not yet available is not an error. */
    public static Daemon start(MailproxyConfig initial, Map<String, String> env) {
        Clock clock = Clock.systemUTC();
        AtomicReference<MailproxyConfig> config = new AtomicReference<>(initial);
        PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Transport transport = Transport.detect();
        EventLoopGroup workers = transport.newEventLoopGroup(0, "mailproxy-io");
        ScheduledExecutorService scheduler = Executors.newScheduledThreadPool(1, daemonThreads("mailproxy-timer"));
        ExecutorService blocking = Executors.newCachedThreadPool(daemonThreads("mailproxy-blocking"));

        FileSecretStore secrets = FileSecretStore.open(initial.stateDir(), env);
        TokenService tokens = new TokenService(config::get, secrets, clock, scheduler, blocking);
        DefaultUpstreamCredentials credentials = new DefaultUpstreamCredentials(config::get, secrets, tokens);
        UpstreamConnector connector = new NettyUpstreamConnector(workers, transport.socketChannelClass(), config::get,
                credentials, new ClientTls(), clock);
        PoolRegistry pools = new PoolRegistry(connector, config::get, clock, scheduler, meters);
        LocalIdentities identities = new LocalIdentities(config::get, clock, initial.limits().argon2Concurrency());

        CoreServices services = new Services(config, identities, pools, connector, meters, clock, blocking, scheduler);
        Map<Protocol, Frontend> frontends = new EnumMap<>(Protocol.class);
        for (FrontendFactory f : ServiceLoader.load(FrontendFactory.class)) {
            frontends.put(f.protocol(), f.create(services));
        }
        log.info("mailproxy starting: transport {}, frontends {}, config {}", transport.name(), frontends.keySet(),
                initial.source());
        ServerRuntime runtime = new ServerRuntime(transport, workers, frontends, meters, clock);
        runtime.start(initial);
        return new Daemon(config, workers, scheduler, blocking, tokens, pools, identities, runtime, meters);
    }

    public void reload(MailproxyConfig next) {
        runtime.reload(next);
        config.set(next);
    }

    public MailproxyConfig config() {
        return config.get();
    }

    public List<InetSocketAddress> boundAddresses() {
        return runtime.boundAddresses();
    }

    public MeterRegistry meters() {
        return meters;
    }

    /** Goodbye to every client, drain within the grace period, then release everything. */
    @Override
    public void close() {
        runtime.shutdown(config.get().limits().shutdownGrace());
        pools.close();
        tokens.close();
        identities.close();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        scheduler.shutdownNow();
        blocking.shutdownNow();
        meters.close();
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String prefix) {
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    private record Services(AtomicReference<MailproxyConfig> configRef, LocalAuthenticator authenticator,
                            UpstreamPools pools, UpstreamConnector connector, MeterRegistry meters, Clock clock,
                            java.util.concurrent.Executor blockingExecutor, ScheduledExecutorService scheduler)
            implements CoreServices {
        @Override
        public MailproxyConfig config() {
            return configRef.get();
        }
    }
}
