package io.mailproxy.pop3.testing;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.imap.ImapClient;
import io.mailproxy.core.upstream.UpstreamSession;
import io.mailproxy.pop3.session.Pop3Frontend;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.core.FakeLease;
import io.mailproxy.testkit.core.FakeListener;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.Closeable;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The POP3 frontend on a loopback port, with a pool whose leases are fresh connections to a plaintext IMAP server
 * (GreenMail) logged in with LOGIN. Each lease's channel carries a first handler named "tls" (standing in for
 * TLS) that counts the bytes the upstream sent and records the commands the proxy sent.
 */
public final class ProxyServer implements Closeable {

    /** Client "alice" with password "secret" (POP3, default policy). */
    public final FakeCore core = new FakeCore().client("alice", "secret", io.mailproxy.core.config.ClientConfig.Pop3Policy.DEFAULT);
    public final AtomicLong upstreamBytes = new AtomicLong();
    public final List<String> upstreamCommands = new CopyOnWriteArrayList<>();
    /** One entry per ended lease: "release" or "discard". */
    public final List<String> leaseEnds = new CopyOnWriteArrayList<>();
    /** The leases whose token the session reported rejected ({@link Lease#tokenRejected()}). */
    public List<FakeLease> tokenRejections() {
        return core.pools.handedOut.stream().filter(l -> l.tokenRejected).toList();
    }
    /** Capabilities to drop from what the upstream advertises (to simulate a server without them). */
    public final Set<String> hideCapabilities = new HashSet<>();
    /** When set, leases report a token that expires this long after login. */
    public volatile java.time.Duration tokenLifetime;

    private final EventLoopGroup clients = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final EventLoopGroup upstreams = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;

    public ProxyServer(int imapPort, String user, String password) throws InterruptedException {
        this(imapPort, user, password, new FakeListener(Protocol.POP3));
    }

    public ProxyServer(int imapPort, String user, String password, FakeListener listener) throws InterruptedException {
        Pop3Frontend frontend = new Pop3Frontend(core);
        server = new ServerBootstrap().group(clients).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        frontend.initChannel(ch, listener);
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
        core.pools.opening((account, protocol) -> login(imapPort, user, password)).onEnd((lease, end) -> {
            leaseEnds.add(end == FakeLease.End.RELEASED ? "release" : "discard");
            lease.session().channel().close();
        });
    }

    /** Makes connector().connect log in to a plaintext POP3 server with USER/PASS (pass-through tests). */
    public void usePop3Upstream(int pop3Port, String user, String password) {
        core.connectOn = loop -> {
            CompletableFuture<UpstreamSession> result = new CompletableFuture<>();
            // like the real connector: the upstream channel is registered on the client's event loop
            ChannelFuture connect = new Bootstrap().group(loop).channel(NioSocketChannel.class)
                    .option(ChannelOption.AUTO_READ, false)
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast("tls", new Recorder());
                            ch.pipeline().addLast("login", new Pop3Login(user, password, result));
                        }
                    })
                    .connect("127.0.0.1", pop3Port);
            connect.addListener(f -> {
                if (f.isSuccess()) {
                    connect.channel().read();
                } else {
                    result.completeExceptionally(f.cause());
                }
            });
            return result;
        };
    }

    /** Greeting, USER, PASS; then hands the channel over as the connector would. */
    private final class Pop3Login extends io.netty.channel.ChannelInboundHandlerAdapter {
        private final String user;
        private final String password;
        private final CompletableFuture<UpstreamSession> result;
        private final StringBuilder line = new StringBuilder();
        private int step;
        private String greeting;

        Pop3Login(String user, String password, CompletableFuture<UpstreamSession> result) {
            this.user = user;
            this.password = password;
            this.result = result;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            line.append(buf.toString(StandardCharsets.ISO_8859_1));
            buf.release();
            if (line.indexOf("\n") < 0) {
                ctx.read();
                return;
            }
            String reply = line.toString().strip();
            line.setLength(0);
            if (!reply.startsWith("+OK")) {
                result.completeExceptionally(new IllegalStateException("POP3 login: " + reply));
                ctx.close();
                return;
            }
            switch (step++) {
                case 0 -> {
                    greeting = reply;
                    ctx.writeAndFlush(Unpooled.copiedBuffer("USER " + user + "\r\n", StandardCharsets.UTF_8));
                    ctx.read();
                }
                case 1 -> {
                    ctx.writeAndFlush(Unpooled.copiedBuffer("PASS " + password + "\r\n", StandardCharsets.UTF_8));
                    ctx.read();
                }
                default -> {
                    ctx.pipeline().remove(this);
                    upstreamCommands.clear();
                    result.complete(new UpstreamSession(Protocol.POP3, ctx.channel(), greeting,
                            Set.of("TOP", "UIDL", "USER"), Optional.empty()));
                }
            }
        }
    }

    public int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    private CompletableFuture<UpstreamSession> login(int imapPort, String user, String password) {
        CompletableFuture<UpstreamSession> result = new CompletableFuture<>();
        ChannelFuture connect = new Bootstrap().group(upstreams).channel(NioSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("tls", new Recorder());
                    }
                })
                .connect("127.0.0.1", imapPort);
        connect.addListener(f -> {
            if (!f.isSuccess()) {
                result.completeExceptionally(f.cause());
                return;
            }
            Channel ch = connect.channel();
            ImapClient imap = ImapClient.attach(ch);
            imap.execute("LOGIN \"" + user + "\" \"" + password + "\"")
                    .thenComposeAsync(ok -> imap.execute("CAPABILITY"), ch.eventLoop())
                    .whenComplete((caps, e) -> {
                        if (e != null) {
                            result.completeExceptionally(e);
                            return;
                        }
                        Set<String> set = new HashSet<>();
                        caps.first("CAPABILITY").ifPresent(r -> r.values().stream().skip(1)
                                .map(v -> v.asText().toUpperCase(Locale.ROOT)).forEach(set::add));
                        set.removeAll(hideCapabilities);
                        imap.detach();
                        upstreamCommands.clear();
                        java.time.Duration life = tokenLifetime;
                        UpstreamSession session = new UpstreamSession(Protocol.IMAP, ch, "* OK", set,
                                life == null ? Optional.empty() : Optional.of(java.time.Instant.now().plus(life)));
                        result.complete(session);
                    });
        });
        return result;
    }

    /** Counts inbound bytes; records outbound command lines. */
    private final class Recorder extends ChannelDuplexHandler {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            upstreamBytes.addAndGet(((ByteBuf) msg).readableBytes());
            ctx.fireChannelRead(msg);
        }

        @Override
        public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
            String text = ((ByteBuf) msg).toString(StandardCharsets.UTF_8).strip();
            int sp = text.indexOf(' ');
            upstreamCommands.add(sp < 0 ? text : text.substring(sp + 1));
            ctx.write(msg, promise);
        }
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        clients.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
        upstreams.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
