package io.mailproxy.daemon;

import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.credentials.DefaultUpstreamCredentials;
import io.mailproxy.core.credentials.FileSecretStore;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.credentials.SecretStore;
import io.mailproxy.core.credentials.TokenService;
import io.mailproxy.core.graph.GraphClient;
import io.mailproxy.core.graph.GraphSettings;
import io.mailproxy.core.identity.LocalIdentities;
import io.mailproxy.core.pool.PoolRegistry;
import io.mailproxy.core.runtime.Transport;
import io.mailproxy.core.tls.ClientTls;
import io.mailproxy.core.upstream.NettyUpstreamConnector;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.channel.EventLoopGroup;
import java.time.Clock;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Core services without listeners: event loops, secret store, tokens, credentials, connector, pools, identities.
 * The daemon adds listeners on top; {@code check} uses it alone.
 */
final class Core implements AutoCloseable {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Core.class);

    Clock clock;
    AtomicReference<MailproxyConfig> config;
    Transport transport;
    EventLoopGroup workers;
    ScheduledExecutorService scheduler;
    ExecutorService blocking;
    PrometheusMeterRegistry meters;
    FileSecretStore secrets;
    TokenService tokens;
    DefaultUpstreamCredentials credentials;
    NettyUpstreamConnector connector;
    PoolRegistry pools;
    LocalIdentities identities;
    /** Microsoft Graph's mail API, one for the daemon; reads the current config at each call (reload-safe). */
    GraphClient graph;

    /** Held for the daemon's lifetime: one daemon per state-dir (the spool and the secret store are its own). */
    private final java.nio.channels.FileChannel stateLock;

    Core(MailproxyConfig initial, Map<String, String> env) {
        this(initial, env, false);
    }

    /**
     * @param exclusive take {@code <state-dir>/daemon.lock} first, so a second daemon on the same state-dir stops
     *                  before it touches anything (its SMTP frontend would otherwise recover the live spool)
     */
    Core(MailproxyConfig initial, Map<String, String> env, boolean exclusive) {
        this.stateLock = exclusive ? lockStateDir(initial.stateDir()) : null;
        try {
            init(initial, env);
        } catch (RuntimeException | Error e) {
            closeQuietly();
            throw e;
        }
    }

    private static java.nio.channels.FileChannel lockStateDir(java.nio.file.Path stateDir) {
        try {
            java.nio.file.Files.createDirectories(stateDir);
            java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(stateDir.resolve("daemon.lock"),
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
            if (ch.tryLock() == null) {
                ch.close();
                throw new IllegalStateException("another mailproxy daemon is running with state-dir " + stateDir
                        + " (it holds " + stateDir.resolve("daemon.lock") + ")");
            }
            return ch;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot lock state-dir " + stateDir + ": " + e.getMessage(), e);
        } catch (java.nio.channels.OverlappingFileLockException e) {
            throw new IllegalStateException("a mailproxy daemon is already running in this process with state-dir "
                    + stateDir, e);
        }
    }

    private void init(MailproxyConfig initial, Map<String, String> env) {
        this.clock = Clock.systemUTC();
        this.config = new AtomicReference<>(initial);
        this.meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        this.transport = Transport.detect();
        this.workers = transport.newEventLoopGroup(0, "mailproxy-io");
        this.scheduler = Executors.newScheduledThreadPool(1, threads("mailproxy-timer"));
        this.blocking = Executors.newCachedThreadPool(threads("mailproxy-blocking"));
        this.secrets = FileSecretStore.open(initial.stateDir(), env);
        this.tokens = TokenService.builder(secrets).executor(blocking).scheduler(Scheduler.of(scheduler))
                .clock(clock).meters(meters).build();
        this.credentials = new DefaultUpstreamCredentials(() -> config.get().oauth2(), secrets, tokens, blocking,
                clock);
        this.connector = new NettyUpstreamConnector(workers, transport.socketChannelClass(), config::get,
                credentials, new ClientTls(), clock, blocking, meters);
        this.pools = new PoolRegistry(connector, config::get, clock, scheduler, meters);
        this.identities = new LocalIdentities(config::get, clock, initial.limits().argon2Concurrency(),
                Scheduler.of(scheduler), meters);
        this.graph = GraphClient.create(config::get, credentials, meters, clock, Scheduler.of(scheduler),
                Core::graphSettings);
    }

    /** The Graph client's limits of an upstream, as the config bound them. */
    static GraphSettings graphSettings(UpstreamConfig upstream) {
        UpstreamConfig.GraphLimits l = upstream.graphLimits();
        return new GraphSettings(l.concurrency(), l.queue(), l.maxRequestBytes(), l.uploadChunkBytes());
    }

    /**
     * The secret store as the control socket writes it: a refresh token stored by {@code login} goes through the
     * token service, so an account waiting for it is retried at once instead of after its back-off.
     */
    SecretStore controlStore() {
        return new SecretStore() {
            @Override
            public Optional<String> get(String name) {
                return secrets.get(name);
            }

            @Override
            public void put(String name, String value) {
                if (name.startsWith(TokenService.REFRESH_TOKEN_PREFIX)) {
                    String rest = name.substring(TokenService.REFRESH_TOKEN_PREFIX.length());
                    int colon = rest.indexOf(':');
                    if (colon > 0) {
                        tokens.storeRefreshToken(rest.substring(0, colon), rest.substring(colon + 1), value);
                        return;
                    }
                }
                secrets.put(name, value);
            }

            @Override
            public boolean delete(String name) {
                return secrets.delete(name);
            }

            @Override
            public java.util.List<String> names() {
                return secrets.names();
            }
        };
    }

    @Override
    public void close() {
        closeQuietly();
    }

    /**
     * Closes whatever was built (a constructor that failed half-way built only part of it), the lock last. Every step
     * runs even when one before it fails, so a failing pool close cannot keep the event loops or the lock alive.
     */
    private void closeQuietly() {
        step("pools", pools == null ? null : pools::close);
        step("graph client", graph == null ? null : graph::close);
        step("token service", tokens == null ? null : tokens::close);
        step("local identities", identities == null ? null : identities::close);
        step("event loops", workers == null ? null
                : () -> workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly());
        step("timer", scheduler == null ? null : scheduler::shutdownNow);
        step("blocking executor", blocking == null ? null : blocking::shutdownNow);
        step("metrics", meters == null ? null : meters::close);
        if (stateLock != null) {
            try {
                stateLock.close();
            } catch (java.io.IOException e) {
                log.warn("could not release the state-dir lock: {} (it goes with the process)", e.toString());
            }
        }
    }

    private static void step(String what, Runnable close) {
        if (close == null) {
            return;
        }
        try {
            close.run();
        } catch (RuntimeException e) {
            log.warn("closing the {} failed; closing the rest", what, e);
        }
    }

    private static ThreadFactory threads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
