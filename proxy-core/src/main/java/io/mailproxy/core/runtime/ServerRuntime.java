package io.mailproxy.core.runtime;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.config.ListenerTls;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.tls.ServerTls;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.EventExecutor;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * The server side of the daemon: binds the configured listeners, admits connections (allow-from, implicit local TLS,
 * connection limits), hands each one to its protocol's {@link Frontend}, reloads listeners without dropping sessions,
 * and shuts down gracefully. Client channels run on the worker group the caller passes in, which upstream connections
 * share; the runtime owns only the acceptor thread.
 *
 * <p>{@link #start}, {@link #reload} and {@link #shutdown} block and must not be called on an event loop.
 */
public final class ServerRuntime {

    private static final Logger log = LoggerFactory.getLogger(ServerRuntime.class);

    /** A refused connection whose frontend has not closed it by then is closed by force. */
    static final Duration REFUSE_TIMEOUT = Duration.ofSeconds(10);
    /** After the grace period, how long force-closing may take before shutdown gives up waiting. */
    static final Duration FORCE_CLOSE_WAIT = Duration.ofSeconds(5);

    private enum State { NEW, RUNNING, STOPPED }

    private final Transport transport;
    private final EventLoopGroup workers;
    private final MeterRegistry meters;
    private final Clock clock;
    /**
     * Refused connections log one line per reason per 10 s at most (a flood of them is counted in a metric, not
     * logged each); per reason, so an allow-from flood cannot hide the first "too many connections".
     */
    private final java.util.Map<String, LogThrottle> refusalLogs = new java.util.concurrent.ConcurrentHashMap<>();
    private final AccessPolicy access;
    private final SessionRegistry sessions = new SessionRegistry();
    private final AtomicLong sessionCounter = new AtomicLong();
    /** Listeners by socket ("127.0.0.1:1143"), in configuration order. Guarded by this. */
    private final Map<String, Listener> listeners = new LinkedHashMap<>();
    /** One byte counter per protocol, shared by its sessions. */
    private final Map<Protocol, SessionTrafficHandler> traffic = new java.util.concurrent.ConcurrentHashMap<>();

    private volatile Map<Protocol, Frontend> frontends;
    private volatile MailproxyConfig config;
    private volatile boolean stopping;
    private State state = State.NEW;
    private EventLoopGroup acceptor;

    /**
     * @param transport the transport whose channel classes the listeners use (the same as the workers')
     * @param workers   event loops for client channels, shared with upstream connections; the caller shuts it down
     * @param frontends one frontend per protocol served
     * @param meters    where the session gauges and connection counters go
     * @param clock     for session durations in the log
     */
    public ServerRuntime(Transport transport, EventLoopGroup workers, Map<Protocol, Frontend> frontends,
                         MeterRegistry meters, Clock clock) {
        this(transport, workers, frontends, meters, clock, InetAddress::isLoopbackAddress);
    }

    /** For tests: {@code loopback} decides which addresses count as loopback, so loopback traffic can play LAN. */
    ServerRuntime(Transport transport, EventLoopGroup workers, Map<Protocol, Frontend> frontends,
                  MeterRegistry meters, Clock clock, Predicate<InetAddress> loopback) {
        this.transport = transport;
        this.workers = workers;
        this.frontends = copy(frontends);
        this.meters = meters;
        this.clock = clock;
        this.access = new AccessPolicy(loopback);
        Gauge.builder("mailproxy.sessions.open", sessions.openCount(), n -> n.get())
                .description("client sessions open").register(meters);
        Gauge.builder("mailproxy.sessions.unauthenticated", sessions.unauthenticatedCount(), n -> n.get())
                .description("client sessions not yet logged in").register(meters);
    }

    private static Map<Protocol, Frontend> copy(Map<Protocol, Frontend> frontends) {
        return frontends.isEmpty() ? Map.of() : new EnumMap<>(frontends);
    }

    /**
     * Binds every listener of {@code config}. On failure nothing stays bound.
     *
     * @throws ListenerException naming the listener whose port is in use, whose TLS files cannot be read, or whose
     *                           protocol no frontend serves
     * @throws IllegalStateException when already started or stopped
     */
    public synchronized void start(MailproxyConfig config) {
        notOnEventLoop("start");
        if (state != State.NEW) {
            throw new IllegalStateException("the server runtime was already " + state.name().toLowerCase(Locale.ROOT));
        }
        acceptor = transport.newEventLoopGroup(1, "mailproxy-accept");
        try {
            apply(config, frontends);
        } catch (RuntimeException e) {
            acceptor.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly();
            acceptor = null;
            throw e;
        }
        state = State.RUNNING;
        log.info("server runtime started on the {} transport with {} listener(s)", transport.name(), listeners.size());
    }

    /**
     * Applies a new configuration: listeners that are still configured (same bind address and port) keep their socket
     * and sessions and take the new settings for new connections; removed listeners stop accepting, their sessions
     * continue; new listeners are bound; TLS certificate and key files are read again. The limits apply from now on.
     *
     * @throws ListenerException when a listener cannot be bound or its TLS files read; nothing changed then
     */
    public void reload(MailproxyConfig config) {
        reload(config, frontends);
    }

    /** As {@link #reload(MailproxyConfig)}, with new frontends for new sessions (running ones keep theirs). */
    public synchronized void reload(MailproxyConfig config, Map<Protocol, Frontend> frontends) {
        notOnEventLoop("reload");
        if (state != State.RUNNING) {
            throw new IllegalStateException("the server runtime is not running");
        }
        apply(config, copy(frontends));
        log.info("configuration reloaded from {}: {} listener(s), {} session(s) kept", config.source(),
                listeners.size(), sessionCount());
    }

    /** Builds every generation, binds new sockets, then commits; any failure before the commit changes nothing. */
    private void apply(MailproxyConfig newConfig, Map<Protocol, Frontend> newFrontends) {
        Map<String, ListenerGeneration> planned = new LinkedHashMap<>();
        Map<String, Integer> ephemeral = new HashMap<>();
        for (ListenerConfig lc : newConfig.listeners()) {
            InetAddress bindAddress = resolve(lc);
            String key = socketKey(bindAddress, lc.port());
            if (lc.port() == 0) {
                // every port-0 listener is a socket of its own; across reloads the n-th of a protocol is kept
                key += "#" + lc.protocol() + "#" + ephemeral.merge(key + lc.protocol(), 1, Integer::sum);
            }
            if (planned.containsKey(key)) {
                throw new ListenerException(lc, "the same address and port is configured twice", null);
            }
            Frontend frontend = newFrontends.get(lc.protocol());
            if (frontend == null) {
                throw new ListenerException(lc, "no " + lc.protocol().configName()
                        + " frontend is installed (its module is missing from the class path)", null);
            }
            Optional<SslContext> ssl = Optional.empty();
            if (lc.tls().isPresent()) {
                try {
                    ssl = Optional.of(ServerTls.forListener(lc.tls().get()));
                } catch (IllegalArgumentException e) {
                    throw new ListenerException(lc, e.getMessage(), e);
                }
            }
            planned.put(key, new ListenerGeneration(lc, bindAddress, frontend, ssl, newConfig.limits(), sessions));
        }

        Map<String, Listener> bound = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, ListenerGeneration> e : planned.entrySet()) {
                if (!listeners.containsKey(e.getKey())) {
                    bound.put(e.getKey(), bind(e.getValue()));
                }
            }
        } catch (RuntimeException e) {
            for (Listener listener : bound.values()) {
                listener.serverChannel.close().awaitUninterruptibly();
            }
            throw e;
        }

        // commit
        this.config = newConfig;
        this.frontends = newFrontends;
        for (var it = listeners.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Listener> e = it.next();
            if (!planned.containsKey(e.getKey())) {
                Listener removed = e.getValue();
                String description = removed.describe();
                removed.serverChannel.close().awaitUninterruptibly();
                it.remove();
                log.info("stopped listening: {} (its open sessions continue)", description);
            }
        }
        Map<String, Listener> ordered = new LinkedHashMap<>();
        for (Map.Entry<String, ListenerGeneration> e : planned.entrySet()) {
            Listener listener = listeners.get(e.getKey());
            if (listener == null) {
                listener = bound.get(e.getKey());
                listener.current = e.getValue();
                logListening(listener);
            } else {
                boolean changed = !listener.current.config.equals(e.getValue().config);
                listener.current = e.getValue();
                if (changed) {
                    logListening(listener);
                }
            }
            ordered.put(e.getKey(), listener);
        }
        listeners.clear();
        listeners.putAll(ordered);
    }

    private static InetAddress resolve(ListenerConfig lc) {
        try {
            return InetAddress.getByName(lc.bind());
        } catch (UnknownHostException e) {
            throw new ListenerException(lc, "cannot resolve the bind address \"" + lc.bind() + "\"", e);
        }
    }

    /** Identifies a listener across reloads: its address and port. */
    private static String socketKey(InetAddress address, int port) {
        return address.getHostAddress() + "|" + port;
    }

    private Listener bind(ListenerGeneration generation) {
        Listener listener = new Listener(generation);
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(acceptor, workers)
                .channel(transport.serverChannelClass())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel channel) {
                        accept(listener, channel);
                    }
                });
        ChannelFuture future = bootstrap.bind(new InetSocketAddress(generation.bindAddress, generation.config.port()));
        listener.serverChannel = future.channel();
        future.awaitUninterruptibly();
        if (!future.isSuccess()) {
            Throwable cause = future.cause();
            String reason = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
            throw new ListenerException(generation.config, "cannot listen on " + generation.bindAddress.getHostAddress()
                    + ":" + generation.config.port() + ": " + reason, cause);
        }
        return listener;
    }

    private void logListening(Listener listener) {
        ListenerGeneration g = listener.current;
        String security = g.config.tls().map(t -> t.mode() == ListenerTls.Mode.IMPLICIT ? "implicit TLS" : "STARTTLS")
                .orElse("plaintext");
        String reach = access.describeReach(g.config, g.bindAddress);
        String client = g.config.client().map(c -> ", fixed client " + c).orElse("");
        log.info("listening: {} ({}, {}{}{})", listener.describe(), security, reach, client,
                ProxyProtocolHandler.describe(g.config, listener.describe()));
        if (!g.config.encryptedFromFirstByte() && access.reachableFromOtherHosts(g.config, g.bindAddress)) {
            log.warn("plaintext{} listener {} is reachable from other hosts ({}): passwords and mail cross the"
                    + " network unencrypted", g.config.tls().isPresent() ? " (until STARTTLS)" : "", listener.describe(), reach);
        }
    }

    /**
     * Runs on the new channel's event loop, before any of its events. On a proxy-protocol listener a trusted load
     * balancer's connection is admitted only once its PROXY header names the client; nothing else is set up before.
     */
    private void accept(Listener listener, Channel channel) {
        ListenerGeneration g = listener.current;
        String id = g.config.protocol().configName() + "-" + Long.toString(sessionCounter.incrementAndGet(), 36);
        SessionIds.set(channel, id);
        SessionIds.run(channel, () -> {
            InetSocketAddress peer = (InetSocketAddress) channel.remoteAddress();
            var proxy = g.config.proxyProtocol();
            if (proxy.isPresent() && peer != null) {
                if (proxy.get().trusts(peer.getAddress())) {
                    ProxyProtocolHandler.install(channel, proxy.get().headerTimeout(), client -> admit(listener, g,
                            channel, client == null ? peer : client,
                            " via=" + SessionLog.address(peer) + (client == null ? " proxy=local" : "")),
                            reason -> refusedProxy(listener, g, peer, reason));
                    return;
                }
                ProxyHeaderGuard.install(channel, reason -> refusedProxy(listener, g, peer, reason));
            }
            admit(listener, g, channel, peer, "");
        });
    }

    /** A connection turned away for the PROXY protocol (the handlers close it). */
    private void refusedProxy(Listener listener, ListenerGeneration g, InetSocketAddress peer, String reason) {
        refusalLog("proxy-protocol").log(held -> log.warn("refused connection from {} to {}: {}{}",
                peer.getAddress().getHostAddress(), listener.describe(), reason, heldBack(held)));
        refused(g, "proxy-protocol");
    }

    /**
     * Admits a connection from {@code remote} (the client: the TCP peer, or the address a PROXY header named) or
     * refuses it; {@code via} ends the session's start line.
     */
    private void admit(Listener listener, ListenerGeneration g, Channel channel, InetSocketAddress remote, String via) {
        String id = SessionIds.of(channel);
        if (remote == null || !access.allows(g.config, g.bindAddress, remote.getAddress())) {
            String who = remote == null ? "an unknown address" : remote.getAddress().getHostAddress();
            refusalLog("allow-from").log(held -> log.warn(
                    "refused connection from {} to {}: not loopback and not in allow-from{}",
                    who, listener.describe(), heldBack(held)));
            refused(g, "allow-from");
            channel.close();
            return;
        }
        InetAddress source = access.isLoopback(remote.getAddress()) ? null : remote.getAddress();
        Session session = new Session(id, channel, g, clock.instant(), source);
        channel.attr(Session.KEY).set(session);
        Protocol protocol = g.config.protocol();
        channel.pipeline().addLast("traffic", traffic.computeIfAbsent(protocol,
                p -> new SessionTrafficHandler(p.configName(), meters)));
        if (g.implicitTls()) {
            channel.pipeline().addLast("tls", g.newSslHandler(channel));
        }
        channel.pipeline().addLast("session", SessionIds.mdcHandler());

        SessionRegistry.Admission admission = stopping ? new SessionRegistry.Admission("shutting down", null)
                : sessions.admit(session, g.limits);
        String refusal = admission.refusal();
        sessions.track(session);
        if (refusal != null) {
            channel.pipeline().addLast("errors", SessionErrorHandler.INSTANCE);
            String who = remote.getAddress().getHostAddress();
            refusalLog(refusal).log(held -> log.warn("refused connection from {} to {}: {}{}", who, listener.describe(),
                    refusal, heldBack(held)));
            refused(g, refusal);
            refuse(g, channel, refusal);
            return;
        }
        Counter.builder("mailproxy.connections.accepted").tag("protocol", g.config.protocol().configName())
                .register(meters).increment();
        String from = SessionLog.address(remote);
        log.info(SessionLog.startLine(session, from, listener.describe()) + via);
        if (admission.evicted() != null) {
            evict(admission.evicted(), g.limits.maxUnauthenticated());
        }
        if (g.config.client().isPresent()) {
            SessionLog.identify(channel, g.config.client().get(), null);
        }
        channel.closeFuture().addListener(f -> SessionIds.run(channel, () -> log.info(SessionLog.endLine(
                protocol.configName(), session.client, session.account, from, session.bytesIn, session.bytesOut,
                Duration.between(session.opened, clock.instant()), session.outcome))));
        try {
            g.frontend.initChannel(channel, g);
            channel.pipeline().addLast("errors", SessionErrorHandler.INSTANCE);
        } catch (RuntimeException e) {
            log.error("the {} frontend failed to set up a session; closing it", g.config.protocol().configName(),
                    e);
            channel.close();
        }
    }

    /**
     * Closes a session not yet logged in, which a new connection replaced under max-unauthenticated: its
     * frontend says goodbye; if the channel is still open and not logged in {@link #REFUSE_TIMEOUT} later, it is
     * closed by force. Logged once per 10 s with a count.
     */
    private void evict(Session victim, int limit) {
        String protocol = victim.listener.config.protocol().configName();
        Counter.builder("mailproxy.connections.evicted").tag("protocol", protocol)
                .description("connections not yet logged in closed to make room for a new one").register(meters)
                .increment();
        String from = SessionLog.address(ClientAddress.inet(victim.channel));
        long age = Duration.between(victim.opened, clock.instant()).toSeconds();
        String spoke = victim.bytesIn == 0 ? "silent" : "sent " + victim.bytesIn + " bytes";
        refusalLog("evicted").log(held -> log.warn("{} connections not yet logged in (limits.max-unauthenticated):"
                + " closed {} from {} (open {} s, {}) to admit a new one{}", limit, victim.id, from, age, spoke,
                held == 0 ? "" : " (and " + held + " more since the last such line;"
                        + " mailproxy_connections_evicted_total counts them all)"));
        victim.outcome = "evicted";
        Channel channel = victim.channel;
        channel.eventLoop().execute(() -> SessionIds.run(channel, () -> {
            if (!channel.isOpen()) {
                return;
            }
            var forced = channel.eventLoop().schedule(() -> {
                if (!victim.loggedIn) {
                    channel.close();
                }
            }, REFUSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            channel.closeFuture().addListener(f -> forced.cancel(false));
            try {
                victim.listener.frontend.evict(channel);
            } catch (RuntimeException e) {
                log.warn("the {} frontend failed to say goodbye to an evicted session; closing it", protocol, e);
                channel.close();
            }
        }));
    }

    private LogThrottle refusalLog(String reason) {
        return refusalLogs.computeIfAbsent(reason, r -> new LogThrottle(System::nanoTime, Duration.ofSeconds(10)));
    }

    /** "(and N more refusals ...)" for a throttled log line; empty when none were held back. */
    private static String heldBack(long held) {
        return held == 0 ? "" : " (and " + held + " more refused connection(s) not logged since the last such line;"
                + " mailproxy_connections_refused_total counts them all)";
    }

    private void refuse(ListenerGeneration g, Channel channel, String reason) {
        var forced = channel.eventLoop().schedule(() -> channel.close(), REFUSE_TIMEOUT.toMillis(),
                TimeUnit.MILLISECONDS);
        channel.closeFuture().addListener(f -> forced.cancel(false));
        try {
            g.frontend.refuse(channel, reason);
        } catch (RuntimeException e) {
            log.error("the {} frontend failed to refuse a connection; closing it", g.config.protocol().configName(),
                    e);
            channel.close();
        }
    }

    private void refused(ListenerGeneration g, String reason) {
        Counter.builder("mailproxy.connections.refused").tag("protocol", g.config.protocol().configName())
                .tag("reason", reason.replace(' ', '-')).register(meters).increment();
    }

    /**
     * Stops accepting, asks every session's frontend to say goodbye in its protocol ({@link Frontend#shutdown}, on
     * the session's event loop), waits up to {@code grace} for the sessions to close, then closes the rest by force.
     * Returns when every client channel is closed (or {@link #FORCE_CLOSE_WAIT} after the grace period at the
     * latest). The worker group is the caller's to shut down afterwards. Idempotent.
     */
    public synchronized void shutdown(Duration grace) {
        notOnEventLoop("shutdown");
        if (state == State.STOPPED) {
            return;
        }
        state = State.STOPPED;
        stopping = true;
        for (Listener listener : listeners.values()) {
            listener.serverChannel.close().awaitUninterruptibly();
        }
        listeners.clear();

        List<Session> open = sessions.snapshot();
        List<Session> admitted = new ArrayList<>();
        for (Session s : open) {
            if (s.admitted) {
                admitted.add(s);
            } else {
                s.channel.close();
            }
        }
        log.info("shutting down: saying goodbye to {} session(s), waiting up to {}", admitted.size(), grace);
        CountDownLatch closed = new CountDownLatch(admitted.size());
        for (Session s : admitted) {
            s.channel.closeFuture().addListener(f -> closed.countDown());
            s.channel.eventLoop().execute(() -> SessionIds.run(s.channel, () -> {
                if (!s.channel.isOpen()) {
                    return;
                }
                try {
                    s.listener.frontend.shutdown(s.channel);
                } catch (RuntimeException e) {
                    log.warn("the {} frontend failed to say goodbye; closing the session",
                            s.listener.config.protocol().configName(), e);
                    s.channel.close();
                }
            }));
        }
        boolean all = await(closed, grace);
        if (!all) {
            List<Session> left = sessions.snapshot();
            log.warn("{} session(s) still open after {}; closing them", left.size(), grace);
            CountDownLatch forced = new CountDownLatch(left.size());
            for (Session s : left) {
                s.channel.closeFuture().addListener(f -> forced.countDown());
                s.channel.close();
            }
            if (!await(forced, FORCE_CLOSE_WAIT)) {
                log.warn("{} session(s) did not close within {}", forced.getCount(), FORCE_CLOSE_WAIT);
            }
        }
        if (acceptor != null) {
            acceptor.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly();
        }
        log.info("server runtime stopped");
    }

    private static boolean await(CountDownLatch latch, Duration timeout) {
        try {
            return latch.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return latch.getCount() == 0;
        }
    }

    /** The addresses the listeners are bound to, in configuration order (the real port where 0 was asked). */
    public synchronized List<InetSocketAddress> boundAddresses() {
        List<InetSocketAddress> addresses = new ArrayList<>();
        for (Listener listener : listeners.values()) {
            addresses.add((InetSocketAddress) listener.serverChannel.localAddress());
        }
        return List.copyOf(addresses);
    }

    /** Client sessions open now (refused connections not counted). */
    public int sessionCount() {
        return sessions.openCount().get();
    }

    /** A snapshot of every admitted session open now, oldest first. */
    public List<SessionInfo> sessions() {
        List<SessionInfo> list = new ArrayList<>();
        for (Session s : sessions.snapshot()) {
            if (s.admitted && s.channel.isOpen()) {
                list.add(new SessionInfo(s.id, s.listener.config.protocol(),
                        SessionLog.address(ClientAddress.inet(s.channel)), Optional.ofNullable(s.client),
                        Optional.ofNullable(s.account), s.opened, s.bytesIn, s.bytesOut));
            }
        }
        list.sort(java.util.Comparator.comparing(SessionInfo::opened).thenComparing(SessionInfo::id));
        return List.copyOf(list);
    }

    /** Client sessions open now that have not logged in yet. */
    public int unauthenticatedCount() {
        return sessions.unauthenticatedCount().get();
    }

    /** The configuration last started or reloaded; null before {@link #start}. */
    public MailproxyConfig config() {
        return config;
    }

    /** The transport in use. */
    public Transport transport() {
        return transport;
    }

    private void notOnEventLoop(String what) {
        for (EventExecutor executor : workers) {
            if (executor.inEventLoop()) {
                throw new IllegalStateException(what + " blocks and must not be called on an event loop");
            }
        }
    }

    /** One bound socket; its settings change with each reload. */
    private static final class Listener {
        volatile ListenerGeneration current;
        volatile Channel serverChannel;

        Listener(ListenerGeneration current) {
            this.current = current;
        }

        /** "imap 127.0.0.1:1143", with the real port. */
        String describe() {
            ListenerGeneration g = current;
            Channel channel = serverChannel;
            InetSocketAddress local = channel == null ? null : (InetSocketAddress) channel.localAddress();
            if (local == null) {
                return g.config.describe();
            }
            String host = local.getAddress().getHostAddress();
            return g.config.protocol().configName() + " " + (host.contains(":") ? "[" + host + "]" : host) + ":"
                    + local.getPort();
        }
    }
}
