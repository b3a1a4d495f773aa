package io.mailproxy.core.upstream;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.config.UpstreamEndpoint;
import io.mailproxy.core.credentials.UpstreamCredentials;
import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import io.mailproxy.core.tls.ClientTls;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream connector on Netty: TCP, implicit TLS or STARTTLS, greeting, capabilities, SASL (XOAUTH2, PLAIN,
 * LOGIN) and a NOOP check for IMAP, POP3 and SMTP, then the hand-over {@link UpstreamSession} describes.
 *
 * <p>The credentials are fetched while TCP and TLS are set up, so a token round trip overlaps the handshake. Host
 * names are resolved off the event loop (on the resolver executor), and every address of the host is tried in turn
 * until one accepts the TCP connection ({@link Attempts}). Every step is bounded: the connect timeout, the handshake timeout, and
 * the reply timeout for each reply (and for credentials still missing when the upstream is ready for AUTH), all from
 * the upstream's configuration. The returned future completes on the connection's event loop (except for the
 * configuration errors found before any I/O, which fail at once), with an {@link UpstreamException}. Nothing that
 * reads a file or asks DNS (the ca-file, the host name) runs on the caller's thread or on an event loop.
 */
public final class NettyUpstreamConnector implements UpstreamConnector {

    /** Longest reply line accepted during login (a CAPABILITY or EHLO line is far shorter). */
    static final int MAX_LINE = 64 * 1024;

    private static final Logger LOG = LoggerFactory.getLogger(NettyUpstreamConnector.class);

    private final EventLoopGroup group;
    private final Class<? extends SocketChannel> channelClass;
    private final Supplier<MailproxyConfig> config;
    private final UpstreamCredentials credentials;
    private final ClientTls tls;
    private final Clock clock;
    private final Executor resolver;
    private final HostResolver hosts;
    private final LoginMetrics logins;

    public NettyUpstreamConnector(EventLoopGroup group, Class<? extends SocketChannel> channelClass,
                                  Supplier<MailproxyConfig> config, UpstreamCredentials credentials, ClientTls tls,
                                  Clock clock) {
        this(group, channelClass, config, credentials, tls, clock, lookupThreads());
    }

    /**
     * Threads of its own for the blocking steps when the caller gives none: not the common fork-join pool, which a
     * slow DNS server would stall for every other user (it has one thread on a two-core machine). Idle threads end
     * after a minute, so a connector dropped without a close leaves none behind.
     */
    private static Executor lookupThreads() {
        AtomicInteger n = new AtomicInteger();
        return new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), r -> {
            Thread t = new Thread(r, "mailproxy-upstream-lookup-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    /** @param resolver runs the blocking steps (reading the ca-file, the host name lookup); never an event loop */
    public NettyUpstreamConnector(EventLoopGroup group, Class<? extends SocketChannel> channelClass,
                                  Supplier<MailproxyConfig> config, UpstreamCredentials credentials, ClientTls tls,
                                  Clock clock, Executor resolver) {
        this(group, channelClass, config, credentials, tls, clock, resolver, null, HostResolver.JDK);
    }

    /**
     * @param resolver runs the blocking steps (reading the ca-file, the host name lookup); never an event loop
     * @param meters   where the {@code mailproxy.upstream.logins} counter goes
     */
    public NettyUpstreamConnector(EventLoopGroup group, Class<? extends SocketChannel> channelClass,
                                  Supplier<MailproxyConfig> config, UpstreamCredentials credentials, ClientTls tls,
                                  Clock clock, Executor resolver, MeterRegistry meters) {
        this(group, channelClass, config, credentials, tls, clock, resolver, Objects.requireNonNull(meters),
                HostResolver.JDK);
    }

    /** For tests: {@code hosts} replaces the JDK's lookup (still run on {@code resolver}); {@code meters} may be null. */
    NettyUpstreamConnector(EventLoopGroup group, Class<? extends SocketChannel> channelClass,
                           Supplier<MailproxyConfig> config, UpstreamCredentials credentials, ClientTls tls,
                           Clock clock, Executor resolver, MeterRegistry meters, HostResolver hosts) {
        this.group = Objects.requireNonNull(group);
        this.channelClass = Objects.requireNonNull(channelClass);
        this.config = Objects.requireNonNull(config);
        this.credentials = Objects.requireNonNull(credentials);
        this.tls = Objects.requireNonNull(tls);
        this.clock = Objects.requireNonNull(clock);
        this.resolver = Objects.requireNonNull(resolver);
        this.hosts = Objects.requireNonNull(hosts);
        this.logins = new LoginMetrics(meters);
    }

    @Override
    public void tokenRejected(AccountConfig account, Protocol protocol) {
        credentials.invalidate(account, protocol);
    }

    @Override
    public CompletableFuture<UpstreamSession> connect(AccountConfig account, Protocol protocol, EventLoop eventLoop) {
        CompletableFuture<UpstreamSession> attempt = attempt(account, protocol, eventLoop);
        logins.record(account, protocol, attempt);
        return attempt;
    }

    private CompletableFuture<UpstreamSession> attempt(AccountConfig account, Protocol protocol, EventLoop eventLoop) {
        CompletableFuture<UpstreamSession> result = new CompletableFuture<>();
        UpstreamConfig upstream = config.get().upstreams().get(account.upstream());
        if (upstream == null) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.UNREACHABLE,
                    "account " + account.name() + " names upstream " + account.upstream() + ", which is not configured"));
        }
        UpstreamEndpoint endpoint = upstream.endpoint(protocol).orElse(null);
        if (endpoint == null) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.UNREACHABLE,
                    "upstream " + upstream.name() + " has no " + protocol.configName() + " endpoint"));
        }
        CompletableFuture<Login> login;
        try {
            login = credentials.loginFor(account, protocol);
        } catch (RuntimeException e) {
            login = CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Login> loginFuture = login;
        EventLoop loop = eventLoop != null ? eventLoop : group.next();
        // no credentials at all: give up at once rather than log in halfway (the dialogue reports it otherwise)
        loginFuture.whenComplete((l, e) -> {
            if (e != null && Failures.unwrap(e) instanceof UpstreamException u) {
                loop.execute(() -> result.completeExceptionally(u));
            }
        });
        // the TLS context (a stat of the ca-file, and reading it and the system's anchors when it changed) and the
        // host name lookup block: both run on the resolver executor, never on the event loop
        CompletableFuture.supplyAsync(() -> prepare(upstream, endpoint.host()), resolver).whenComplete((ready, e) ->
                loop.execute(() -> {
                    if (e != null) {
                        result.completeExceptionally(Failures.classify(e, "resolving " + endpoint.host()));
                    } else {
                        new Attempts(account, protocol, upstream, endpoint, loop, ready, loginFuture, result).next();
                    }
                }));
        return result;
    }

    /** What a connection needs that may block to get: the upstream's TLS context and the host's addresses. */
    private record Prepared(SslContext tls, List<InetAddress> addresses) { }

    private Prepared prepare(UpstreamConfig upstream, String host) {
        SslContext context;
        try {
            context = tls.context(upstream); // an unreadable ca-file fails here
        } catch (SSLException e) {
            throw new CompletionException(new UpstreamException(Kind.TLS_FAILURE, e.getMessage()));
        }
        return new Prepared(context, resolveAll(host));
    }

    private List<InetAddress> resolveAll(String host) {
        List<InetAddress> addresses;
        try {
            addresses = List.copyOf(hosts.resolve(host));
        } catch (UnknownHostException e) {
            throw new CompletionException(e);
        }
        if (addresses.isEmpty()) {
            throw new CompletionException(new UnknownHostException(host + " (no addresses)"));
        }
        return addresses;
    }

    /**
     * Connects to each address of the host in turn, in the order the resolver gave them, until one accepts the TCP
     * connection; only then does the login dialogue start, and whatever fails after that (TLS, the protocol) is not
     * tried again on another address. The connect timeout is the budget for all of them: each attempt gets an equal
     * share of what is left, so one address that drops our SYNs cannot use up the time the next one needs.
     * Runs on the connection's event loop.
     */
    private final class Attempts {
        private final AccountConfig account;
        private final Protocol protocol;
        private final UpstreamConfig upstream;
        private final UpstreamEndpoint endpoint;
        private final EventLoop loop;
        private final SslContext context;
        private final List<InetAddress> addresses;
        private final CompletableFuture<Login> login;
        private final CompletableFuture<UpstreamSession> result;
        private final List<String> failures = new ArrayList<>();
        private boolean onlyTimeouts = true;
        private Throwable lastCause;
        private long deadline;
        private int next;

        Attempts(AccountConfig account, Protocol protocol, UpstreamConfig upstream, UpstreamEndpoint endpoint,
                 EventLoop loop, Prepared ready, CompletableFuture<Login> login,
                 CompletableFuture<UpstreamSession> result) {
            this.account = account;
            this.protocol = protocol;
            this.upstream = upstream;
            this.endpoint = endpoint;
            this.loop = loop;
            this.context = ready.tls();
            this.addresses = ready.addresses();
            this.login = login;
            this.result = result;
        }

        /** The least time one address gets, when the budget allows: about three SYN retransmissions. */
        private static final long MIN_ATTEMPT_NANOS = TimeUnit.SECONDS.toNanos(3);

        void next() {
            if (result.isDone()) {
                return; // the caller gave up, or the credentials are missing
            }
            long now = System.nanoTime(); // the budget is Netty's connect timer's, which runs on real time
            if (next == 0) {
                deadline = now + Math.max(1, upstream.connectTimeout().toNanos());
            }
            int left = addresses.size() - next;
            long remaining = deadline - now;
            if (left == 0 || remaining <= 0) {
                giveUp();
                return;
            }
            InetSocketAddress address = new InetSocketAddress(addresses.get(next++), endpoint.port());
            // an equal share of what is left, but never under MIN_ATTEMPT (a few SYN retransmits) unless that is all
            // that is left: with many addresses, later ones may get no turn rather than every one too little
            long share = Math.max(1, TimeUnit.NANOSECONDS.toMillis(
                    Math.min(remaining, Math.max(remaining / left, MIN_ATTEMPT_NANOS))));
            open(account, protocol, upstream, endpoint, context, loop, address,
                    (int) Math.min(Integer.MAX_VALUE, share), login, result, cause -> failed(address, cause));
        }

        private void failed(InetSocketAddress address, Throwable cause) {
            UpstreamException typed = Failures.classify(cause, "connecting to " + address);
            onlyTimeouts &= typed.kind() == Kind.TIMED_OUT;
            lastCause = Failures.unwrap(cause);
            failures.add(address.getAddress().getHostAddress() + ": " + typed.getMessage());
            if (next < addresses.size()) {
                LOG.debug("{} {}: connecting to {} failed ({}); trying the next of {} addresses", account.name(),
                        endpoint, address.getAddress().getHostAddress(), typed.getMessage(), addresses.size());
            } else {
                LOG.debug("{} {}: connecting to {} failed ({})", account.name(), endpoint,
                        address.getAddress().getHostAddress(), typed.getMessage());
            }
            next();
        }

        private void giveUp() {
            int tried = next;
            String which = tried == addresses.size()
                    ? (tried == 1 ? "the only address" : "all " + tried + " addresses")
                    : tried + " of the " + addresses.size() + " addresses within the connect timeout of "
                            + upstream.connectTimeout().toMillis() + " ms";
            String message = "cannot connect to " + endpoint + ": tried " + which + " of " + endpoint.host() + " ("
                    + String.join("; ", failures) + ")";
            result.completeExceptionally(new UpstreamException(onlyTimeouts ? Kind.TIMED_OUT : Kind.UNREACHABLE,
                    message, null, lastCause));
        }
    }

    private void open(AccountConfig account, Protocol protocol, UpstreamConfig upstream, UpstreamEndpoint endpoint,
                      SslContext context, EventLoop loop, InetSocketAddress address, int connectTimeoutMillis,
                      CompletableFuture<Login> login, CompletableFuture<UpstreamSession> result,
                      Consumer<Throwable> connectFailed) {
        if (result.isDone()) {
            return;
        }
        Supplier<SslHandler> tlsHandlers = () -> newTlsHandler(context, upstream, endpoint);
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(channelClass)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (endpoint.security() == UpstreamEndpoint.Security.IMPLICIT_TLS) {
                            ch.pipeline().addLast(LoginDialogue.TLS, tlsHandlers.get());
                        }
                        ch.pipeline().addLast(LineChannel.NAME, new LineChannel(MAX_LINE, upstream.replyTimeout(),
                                e -> failAndClose(result, ch, e)));
                    }
                });
        ChannelFuture cf = b.connect(address);
        Channel ch = cf.channel();
        // a caller that gives up (cancel, its own timeout) closes the half-made connection
        result.whenComplete((s, e) -> {
            if (e != null) {
                ch.close();
            }
        });
        cf.addListener((Future<? super Void> f) -> {
            if (!f.isSuccess()) {
                ch.close();
                if (!result.isDone()) {
                    connectFailed.accept(f.cause());
                }
                return;
            }
            LineChannel lines = (LineChannel) ch.pipeline().get(LineChannel.NAME);
            LoginDialogue.create(new LoginDialogue.Context(account, protocol, endpoint, ch, lines, result, login,
                    tlsHandlers, credentials, clock, upstream.replyTimeout())).start();
        });
    }

    private SslHandler newTlsHandler(SslContext context, UpstreamConfig upstream, UpstreamEndpoint endpoint) {
        SslHandler h = tls.newHandler(context, ByteBufAllocator.DEFAULT, endpoint.host(), endpoint.port());
        h.setHandshakeTimeoutMillis(millis(upstream.handshakeTimeout()));
        return h;
    }

    private static void failAndClose(CompletableFuture<UpstreamSession> result, Channel ch, UpstreamException e) {
        result.completeExceptionally(e);
        ch.close();
    }

    /** A blocking host name lookup: every address of a host, in the order to try them. Runs on the resolver executor. */
    @FunctionalInterface
    interface HostResolver {
        /** The JDK's lookup (the system's resolver and hosts file, its address order and its cache). */
        HostResolver JDK = host -> List.of(InetAddress.getAllByName(host));

        List<InetAddress> resolve(String host) throws UnknownHostException;
    }

    private static int millis(Duration d) {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, d.toMillis()));
    }
}
