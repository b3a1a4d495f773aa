package io.mailproxy.daemon;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.admin.AdminServer;
import io.mailproxy.core.admin.Json;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.credentials.SecretResolver;
import io.mailproxy.core.identity.LocalAuthenticator;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.runtime.ServerRuntime;
import io.mailproxy.core.graph.GraphMail;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.FrontendFactory;
import io.mailproxy.core.spi.QueueAdmin;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.mailproxy.daemon.check.GraphCheck;
import io.mailproxy.daemon.check.UpstreamCheck;
import io.mailproxy.daemon.control.ControlServer;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The assembled daemon: core services, the frontends found on the class path, the listeners, the control socket. */
public final class Daemon implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Daemon.class);

    private final Core core;
    private final ServerRuntime runtime;
    private final ControlServer control;
    private final DaemonStatus status;
    /** The admin endpoint; empty when admin.enabled = false. Replaced by a reload that changes admin. */
    private volatile java.util.Optional<AdminServer> admin;
    private final Map<Protocol, Frontend> frontends;

    private Daemon(Core core, ServerRuntime runtime, ControlServer control, DaemonStatus status,
                   java.util.Optional<AdminServer> admin, Map<Protocol, Frontend> frontends) {
        this.core = core;
        this.runtime = runtime;
        this.control = control;
        this.status = status;
        this.admin = admin;
        this.frontends = frontends;
    }

    /**
     * Builds everything and binds the listeners; a secret or token not yet available is not an error. A step that
     * fails (a port in use, an unreadable TLS file, a frontend's bad config) releases whatever the steps before it
     * opened, in reverse order (admin endpoint, listeners, control socket, frontends, then the core: pools, token
     * service, event loops, executors and the state-dir lock last), so a caller that catches the failure is left
     * with no thread, port or lock of it.
     */
    public static Daemon start(MailproxyConfig initial, Map<String, String> env) {
        Core core = new Core(initial, env, true); // releases what it opened itself if it fails
        Deque<Runnable> undo = new ArrayDeque<>();
        undo.push(core::close);
        try {
            CoreServices services = new Services(core.config, core.identities, core.pools, core.connector,
                    core.meters, core.clock, core.blocking, core.scheduler, core.graph);
            Map<Protocol, Frontend> frontends = new EnumMap<>(Protocol.class);
            for (FrontendFactory f : ServiceLoader.load(FrontendFactory.class)) {
                Frontend frontend = f.create(services);
                undo.push(frontend::close);
                frontends.put(f.protocol(), frontend);
            }
            log.info("mailproxy starting: transport {}, frontends {}, config {}", core.transport.name(),
                    frontends.keySet(), initial.source());
            ServerRuntime runtime = new ServerRuntime(core.transport, core.workers, frontends, core.meters, core.clock);
            DaemonStatus status = new DaemonStatus(core.config::get, runtime, core.pools, core.credentials,
                    core.tokens, core.clock, version());
            // STATUS answers one line: the JSON of /status, which ./mailproxy status renders as tables
            ControlServer control = ControlServer.start(initial.stateDir(), core.controlStore(),
                    () -> List.of(Json.write(status.status())), () -> checkLines(core));
            undo.push(control::close);
            control.readableSecrets(name -> core.config.get().oauth2().values().stream()
                    .anyMatch(p -> p.clientSecret().filter(ref -> SecretResolver.refersTo(ref, name)).isPresent()));
            frontends.values().stream().flatMap(f -> f.queue().stream()).findFirst().ifPresent(q -> {
                control.queue(q);
                status.queue(() -> {
                    QueueAdmin.QueueStatus qs = q.status();
                    return java.util.Optional.of(new io.mailproxy.core.admin.StatusReport.Queue(qs.depth(), qs.bytes(),
                            qs.oldestAge(), qs.heldAccounts()));
                });
            });
            // start() unbinds what it bound when a later listener fails; shutdown() covers a failure after it
            undo.push(() -> runtime.shutdown(java.time.Duration.ZERO));
            runtime.start(initial);
            java.util.Optional<AdminServer> admin =
                    AdminServer.start(initial.admin(), core.transport, core.meters, status, status, core.clock);
            admin.ifPresent(a -> undo.push(a::close));
            status.bindMeters(core.meters);
            core.credentials.warmUp(initial.accounts().values());
            return new Daemon(core, runtime, control, status, admin, frontends);
        } catch (IOException e) {
            release(undo, e);
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            release(undo, e);
            throw e;
        }
    }

    /** Runs the undo steps, last opened first; a step that fails too is added to {@code cause}, not thrown. */
    private static void release(Deque<Runnable> undo, Throwable cause) {
        log.debug("start-up failed ({}); releasing {} resource(s)", cause.toString(), undo.size());
        while (!undo.isEmpty()) {
            try {
                undo.pop().run();
            } catch (RuntimeException | Error e) {
                cause.addSuppressed(e);
            }
        }
    }

    /** {@code check} without a running daemon: core services without listeners, closed afterwards. */
    public static List<String> check(MailproxyConfig config, Map<String, String> env) {
        try (Core core = new Core(config, env)) {
            return checkLines(core);
        }
    }

    /** The check's table and a last line "check: N passed, M failed". */
    static List<String> checkLines(Core core) {
        List<UpstreamCheck.Row> rows = new java.util.ArrayList<>(new UpstreamCheck(core.connector)
                .run(core.config.get(), java.time.Duration.ofSeconds(60)));
        rows.addAll(new GraphCheck(core.credentials, core.graph).run(core.config.get(),
                java.time.Duration.ofSeconds(60)));
        List<String> lines = new java.util.ArrayList<>(UpstreamCheck.table(rows));
        long failed = rows.stream().filter(r -> !r.ok()).count();
        lines.add("check: " + (rows.size() - failed) + " passed, " + failed + " failed");
        return lines;
    }

    private static String version() {
        String v = Daemon.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    public void reload(MailproxyConfig next) {
        MailproxyConfig previous = core.config.get();
        runtime.reload(next);
        core.config.set(next);
        status.bindMeters(core.meters);
        if (!next.admin().equals(previous.admin())) {
            admin.ifPresent(AdminServer::close);
            admin = java.util.Optional.empty();
            try {
                admin = AdminServer.start(next.admin(), core.transport, core.meters, status, status, core.clock);
            } catch (IllegalStateException e) {
                log.error("{}; the admin endpoint stays off until the next reload", e.getMessage());
            }
        }
    }

    /** The admin endpoint's address (the real port where 0 was configured); empty when it is disabled. */
    public java.util.Optional<InetSocketAddress> adminAddress() {
        return admin.map(AdminServer::address);
    }

    public MailproxyConfig config() {
        return core.config.get();
    }

    public List<InetSocketAddress> boundAddresses() {
        return runtime.boundAddresses();
    }

    /** Each pool's counts now (as {@code status} shows them). */
    public List<io.mailproxy.core.pool.PoolSnapshot> poolSnapshot() {
        return core.pools.snapshot();
    }

    public MeterRegistry meters() {
        return core.meters;
    }

    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    /** Goodbye to every client, drain within the grace period, then release everything; again: nothing. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        try {
            runtime.shutdown(core.config.get().limits().shutdownGrace());
        } finally {
            admin.ifPresent(AdminServer::close);
            control.close();
            frontends.values().forEach(Frontend::close);
            core.close();
        }
    }

    private record Services(AtomicReference<MailproxyConfig> configRef, LocalAuthenticator authenticator,
                            UpstreamPools pools, UpstreamConnector connector, MeterRegistry meters, Clock clock,
                            Executor blockingExecutor, ScheduledExecutorService scheduler, GraphMail graph)
            implements CoreServices {
        @Override
        public MailproxyConfig config() {
            return configRef.get();
        }
    }
}
