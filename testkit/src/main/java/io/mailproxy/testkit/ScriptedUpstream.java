package io.mailproxy.testkit;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A loopback mail server driven by a script, for what GreenMail cannot do: STARTTLS, Office 365's exact replies and
 * quirks, and faults. It listens on 127.0.0.1 port 0, speaks plaintext, implicit TLS, or plaintext until a
 * responder calls {@link Exchange#startTls}, and records every line the client sent.
 *
 * <p>Each line from the client goes to the {@link Responder} registered for its verb (IMAP: the word after the tag;
 * POP3 and SMTP: the first word), or to the one set with {@link Builder#otherwise}. A responder replies, starts TLS,
 * stays silent, closes, or claims the next line (an AUTH continuation, a DATA line) with
 * {@link Exchange#expectContinuation}. {@link Office365} builds the scripts of Office 365's IMAP, POP3 and SMTP.
 *
 * <pre>{@code
 * try (ScriptedUpstream up = ScriptedUpstream.builder(Dialect.SMTP)
 *         .greeting("220 test ESMTP")
 *         .on("EHLO", ex -> ex.reply("250-test", "250 STARTTLS"))
 *         .on("STARTTLS", ex -> ex.startTls("220 2.0.0 SMTP server ready"))
 *         .security(Security.STARTTLS, TestCertificates.shared().server())
 *         .start()) {
 *     ... connect to up.port() ...
 *     assertThat(up.received()).containsExactly("EHLO [127.0.0.1]", "STARTTLS", ...);
 * }
 * }</pre>
 */
public final class ScriptedUpstream implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ScriptedUpstream.class);

    /** How the upstream's port is secured. */
    public enum Security { PLAINTEXT, STARTTLS, IMPLICIT_TLS }

    /** How a command line names its verb. */
    public enum Dialect { IMAP, POP3, SMTP }

    /** Answers one client line. */
    @FunctionalInterface
    public interface Responder {
        void respond(Exchange exchange) throws Exception;
    }

    private final Builder script;
    private final EventLoopGroup group;
    private final Channel serverChannel;
    private final ChannelGroup clients = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final List<String> received = new CopyOnWriteArrayList<>();
    private final Map<Integer, List<String>> receivedByConnection = new ConcurrentHashMap<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final SslContext sslContext;

    private ScriptedUpstream(Builder b) {
        this.script = b;
        try {
            this.sslContext = b.certificate == null ? null
                    : SslContextBuilder.forServer(b.certificate.key(),
                            b.certificate.chain().toArray(new X509Certificate[0])).build();
        } catch (SSLException e) {
            throw new IllegalStateException("cannot build the server TLS context", e);
        }
        this.group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        ServerBootstrap sb = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        int id = connections.incrementAndGet();
                        clients.add(ch);
                        receivedByConnection.put(id, new CopyOnWriteArrayList<>());
                        if (script.security == Security.IMPLICIT_TLS) {
                            ch.pipeline().addLast("tls", sslContext.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast("lines", new LineBasedFrameDecoder(script.maxLine, true, false));
                        ch.pipeline().addLast("script", new ConnectionHandler(id));
                    }
                });
        try {
            this.serverChannel = sb.bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IllegalStateException("interrupted while binding", e);
        }
    }

    public static Builder builder(Dialect dialect) {
        return new Builder(dialect);
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return ((InetSocketAddress) serverChannel.localAddress()).getPort();
    }

    /** Every line the client sent, over every connection, in arrival order (without CRLF). */
    public List<String> received() {
        return List.copyOf(received);
    }

    /** The lines sent on connection {@code n} (1 is the first connection). */
    public List<String> received(int n) {
        return List.copyOf(receivedByConnection.getOrDefault(n, List.of()));
    }

    /** How many connections were accepted so far. */
    public int connections() {
        return connections.get();
    }

    /** How many connections are open right now. */
    public int openConnections() {
        return clients.size();
    }

    /** Writes {@code lines} to every open connection, unprompted (e.g. {@code * BYE Session invalidated - AccessTokenExpired}). */
    public void sendToAll(String... lines) {
        ByteBuf buf = Unpooled.copiedBuffer(joinLines(lines), StandardCharsets.UTF_8);
        try {
            clients.writeAndFlush(buf.retainedDuplicate()).awaitUninterruptibly(5, TimeUnit.SECONDS);
        } finally {
            buf.release();
        }
    }

    /**
     * Ends every open connection unprompted: {@code lines} first (a BYE), then a close; with {@code reset} the close
     * is a TCP reset (SO_LINGER 0), as a server that goes away without a word.
     */
    public void endAll(boolean reset, String... lines) {
        if (lines.length > 0) {
            sendToAll(lines);
        }
        for (io.netty.channel.Channel ch : clients) {
            if (reset) {
                ch.config().setOption(io.netty.channel.ChannelOption.SO_LINGER, 0);
            }
            ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() {
        serverChannel.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        clients.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }

    private static String joinLines(String... lines) {
        StringBuilder sb = new StringBuilder();
        for (String l : lines) {
            sb.append(l).append("\r\n");
        }
        return sb.toString();
    }

    /** What a responder sees and can do. Used on the server's event loop only. */
    public final class Exchange {
        private final ChannelHandlerContext ctx;
        private final ConnectionHandler conn;
        private final String line;
        private final String tag;
        private final String verb;
        private final String args;

        Exchange(ChannelHandlerContext ctx, ConnectionHandler conn, String line) {
            this.ctx = ctx;
            this.conn = conn;
            this.line = line;
            String rest = line;
            String t = null;
            if (script.dialect == Dialect.IMAP) {
                int sp = rest.indexOf(' ');
                t = sp < 0 ? rest : rest.substring(0, sp);
                rest = sp < 0 ? "" : rest.substring(sp + 1);
            }
            int sp = rest.indexOf(' ');
            this.tag = t;
            this.verb = (sp < 0 ? rest : rest.substring(0, sp)).toUpperCase(Locale.ROOT);
            this.args = sp < 0 ? "" : rest.substring(sp + 1);
        }

        /** The whole line, without CRLF. */
        public String line() {
            return line;
        }

        /** The IMAP tag (null for POP3 and SMTP). */
        public String tag() {
            return tag;
        }

        /** The upper-cased verb ({@code AUTHENTICATE}, {@code EHLO}...); for a continuation line, its first word. */
        public String verb() {
            return verb;
        }

        /** Everything after the verb. */
        public String args() {
            return args;
        }

        /** 1 for the first connection the server accepted, 2 for the second... */
        public int connection() {
            return conn.id;
        }

        /** Per-connection scratch state for scripts (logged-in user, TLS done...). */
        public Map<String, Object> state() {
            return conn.state;
        }

        public boolean isTls() {
            return ctx.pipeline().get("tls") != null;
        }

        /** Writes each line followed by CRLF. */
        public void reply(String... lines) {
            ctx.writeAndFlush(Unpooled.copiedBuffer(joinLines(lines), StandardCharsets.UTF_8));
        }

        /** Writes {@code text} exactly as given. */
        public void replyRaw(String text) {
            ctx.writeAndFlush(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        }

        /** Replies (in plaintext) and then starts the server side of a TLS handshake. */
        public void startTls(String... replyLines) {
            startTlsInjecting("", replyLines);
        }

        /**
         * Replies, writes {@code injected} in the same TCP write (the STARTTLS command-injection attack a client
         * must refuse), then starts TLS.
         */
        public void startTlsInjecting(String injected, String... replyLines) {
            if (sslContext == null) {
                throw new IllegalStateException("no certificate given to the builder");
            }
            ctx.writeAndFlush(Unpooled.copiedBuffer(joinLines(replyLines) + injected, StandardCharsets.UTF_8));
            ctx.pipeline().addFirst("tls", sslContext.newHandler(ctx.alloc()));
        }

        /** The next client line goes to {@code next} instead of being dispatched by verb. */
        public void expectContinuation(Responder next) {
            conn.continuation = next;
        }

        /** Closes the connection once pending writes are flushed. */
        public void close() {
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(f -> ctx.close());
        }
    }

    private final class ConnectionHandler extends SimpleChannelInboundHandler<ByteBuf> {
        final int id;
        final Map<String, Object> state = new HashMap<>();
        Responder continuation;

        ConnectionHandler(int id) {
            this.id = id;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (!script.greeting.isEmpty()) {
                ctx.writeAndFlush(Unpooled.copiedBuffer(joinLines(script.greeting.toArray(new String[0])),
                        StandardCharsets.UTF_8));
            }
            ctx.fireChannelActive();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) throws Exception {
            String line = msg.toString(StandardCharsets.UTF_8);
            received.add(line);
            receivedByConnection.get(id).add(line);
            Exchange ex = new Exchange(ctx, this, line);
            Responder r = continuation;
            continuation = null;
            if (r == null) {
                r = script.responders.getOrDefault(ex.verb(), script.otherwise);
            }
            r.respond(ex);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("scripted upstream connection {}: {}", id, cause.toString());
            ctx.close();
        }
    }

    /** Configures a {@link ScriptedUpstream}; {@link #start()} binds it. */
    public static final class Builder {
        private final Dialect dialect;
        private final List<String> greeting = new ArrayList<>();
        private final Map<String, Responder> responders = new LinkedHashMap<>();
        private Responder otherwise;
        private Security security = Security.PLAINTEXT;
        private TestCertificates.ServerCert certificate;
        private int maxLine = 64 * 1024;

        private Builder(Dialect dialect) {
            this.dialect = dialect;
            this.otherwise = ex -> ex.reply(switch (dialect) {
                case IMAP -> (ex.tag() == null ? "*" : ex.tag()) + " BAD Command Error. 12";
                case POP3 -> "-ERR Unknown command.";
                case SMTP -> "500 5.3.3 Unrecognized command";
            });
        }

        public Dialect dialect() {
            return dialect;
        }

        /** Lines sent when a client connects (after the handshake for implicit TLS); none: a silent server. */
        public Builder greeting(String... lines) {
            greeting.clear();
            greeting.addAll(List.of(lines));
            return this;
        }

        /** The responder for a verb (case-insensitive); replaces an earlier one for the same verb. */
        public Builder on(String verb, Responder responder) {
            responders.put(verb.toUpperCase(Locale.ROOT), responder);
            return this;
        }

        /** The responder for verbs nobody registered (default: the dialect's "unknown command" reply). */
        public Builder otherwise(Responder responder) {
            this.otherwise = responder;
            return this;
        }

        /** Plaintext, STARTTLS (a responder calls {@link Exchange#startTls}) or implicit TLS, with this certificate. */
        public Builder security(Security security, TestCertificates.ServerCert certificate) {
            this.security = security;
            this.certificate = certificate;
            return this;
        }

        public Builder maxLineLength(int max) {
            this.maxLine = max;
            return this;
        }

        public ScriptedUpstream start() {
            if (security != Security.PLAINTEXT && certificate == null) {
                throw new IllegalStateException(security + " needs a certificate");
            }
            return new ScriptedUpstream(this);
        }
    }
}
