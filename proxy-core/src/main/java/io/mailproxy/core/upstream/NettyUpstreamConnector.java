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
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;

/**
 * The upstream connector on Netty: TCP, implicit TLS or STARTTLS, greeting, capabilities, SASL (XOAUTH2, PLAIN,
 * LOGIN) and a NOOP check for IMAP, POP3 and SMTP, then the hand-over {@link UpstreamSession} describes.
 *
 * <p>The credentials are fetched while TCP and TLS are set up, so a token round trip overlaps the handshake. Host
 * names are resolved off the event loop. Every step is bounded: the connect timeout, the handshake timeout, and
 * the reply timeout for each reply (and for credentials still missing when the upstream is ready for AUTH), all from
 * the upstream's configuration. The returned future completes on the connection's event loop (except for the
 * configuration errors found before any I/O, which fail at once), with an {@link UpstreamException}.
 */
public final class NettyUpstreamConnector implements UpstreamConnector {

    /** Longest reply line accepted during login (a CAPABILITY or EHLO line is far shorter). */
    static final int MAX_LINE = 64 * 1024;

    private final EventLoopGroup group;
    private final Class<? extends SocketChannel> channelClass;
    private final Supplier<MailproxyConfig> config;
    private final UpstreamCredentials credentials;
    private final ClientTls tls;
    private final Clock clock;
    private final Executor resolver;

    public NettyUpstreamConnector(EventLoopGroup group, Class<? extends SocketChannel> channelClass,
                                  Supplier<MailproxyConfig> config, UpstreamCredentials credentials, ClientTls tls,
                                  Clock clock) {
        this(group, channelClass, config, credentials, tls, clock, ForkJoinPool.commonPool());
    }

    /** @param resolver runs the (blocking) JDK host name lookup, never an event loop */
    public NettyUpstreamConnector(EventLoopGroup group, Class<? extends SocketChannel> channelClass,
                                  Supplier<MailproxyConfig> config, UpstreamCredentials credentials, ClientTls tls,
                                  Clock clock, Executor resolver) {
        this.group = Objects.requireNonNull(group);
        this.channelClass = Objects.requireNonNull(channelClass);
        this.config = Objects.requireNonNull(config);
        this.credentials = Objects.requireNonNull(credentials);
        this.tls = Objects.requireNonNull(tls);
        this.clock = Objects.requireNonNull(clock);
        this.resolver = Objects.requireNonNull(resolver);
    }

    @Override
    public CompletableFuture<UpstreamSession> connect(AccountConfig account, Protocol protocol, EventLoop eventLoop) {
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
        try {
            tls.context(upstream); // an unreadable ca-file fails here; later calls are a cache hit and one stat
        } catch (SSLException e) {
            return CompletableFuture.failedFuture(new UpstreamException(Kind.TLS_FAILURE, e.getMessage()));
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
        CompletableFuture.supplyAsync(() -> resolve(endpoint.host()), resolver).whenComplete((address, e) ->
                loop.execute(() -> {
                    if (e != null) {
                        result.completeExceptionally(Failures.classify(e, "resolving " + endpoint.host()));
                    } else {
                        open(account, protocol, upstream, endpoint, loop, new InetSocketAddress(address, endpoint.port()),
                                loginFuture, result);
                    }
                }));
        return result;
    }

    private static InetAddress resolve(String host) {
        try {
            return InetAddress.getByName(host);
        } catch (UnknownHostException e) {
            throw new CompletionException(e);
        }
    }

    private void open(AccountConfig account, Protocol protocol, UpstreamConfig upstream, UpstreamEndpoint endpoint,
                      EventLoop loop, InetSocketAddress address, CompletableFuture<Login> login,
                      CompletableFuture<UpstreamSession> result) {
        if (result.isDone()) {
            return;
        }
        Supplier<SslHandler> tlsHandlers = () -> newTlsHandler(upstream, endpoint);
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(channelClass)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, millis(upstream.connectTimeout()))
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
                result.completeExceptionally(Failures.classify(f.cause(), "connecting to " + endpoint));
                return;
            }
            LineChannel lines = (LineChannel) ch.pipeline().get(LineChannel.NAME);
            LoginDialogue.create(new LoginDialogue.Context(account, protocol, endpoint, ch, lines, result, login,
                    tlsHandlers, credentials, clock, upstream.replyTimeout())).start();
        });
    }

    private SslHandler newTlsHandler(UpstreamConfig upstream, UpstreamEndpoint endpoint) {
        try {
            SslHandler h = tls.newHandler(upstream, ByteBufAllocator.DEFAULT, endpoint.host(), endpoint.port());
            h.setHandshakeTimeoutMillis(millis(upstream.handshakeTimeout()));
            return h;
        } catch (SSLException e) {
            throw new IllegalStateException(new UpstreamException(Kind.TLS_FAILURE, e.getMessage()));
        }
    }

    private static void failAndClose(CompletableFuture<UpstreamSession> result, Channel ch, UpstreamException e) {
        result.completeExceptionally(e);
        ch.close();
    }

    private static int millis(Duration d) {
        return (int) Math.min(Integer.MAX_VALUE, Math.max(1, d.toMillis()));
    }
}
