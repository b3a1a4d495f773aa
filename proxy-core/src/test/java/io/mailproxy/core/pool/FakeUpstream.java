package io.mailproxy.core.pool;

import io.mailproxy.core.Protocol;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A tiny loopback upstream that speaks just enough IMAP (NOOP, SELECT, UNSELECT, CLOSE) or SMTP (NOOP, RSET, MAIL)
 * for the pool's probes and resets, records every line it receives per connection, and misbehaves on demand.
 * It sends no greeting: the fake connector stands for the part of a real connector that reads it and logs in.
 */
final class FakeUpstream implements AutoCloseable {

    enum Fault {
        /** Close the connection instead of answering. */
        DROP,
        /** Never answer. */
        HANG,
        /** Answer with a failure (IMAP {@code NO}, SMTP {@code 554}). */
        WRONG,
        /** Say goodbye first (IMAP {@code * BYE}, SMTP {@code 421}) and close. */
        BYE
    }

    /** One line received on one connection (connections are numbered from 1 in accept order). */
    record Received(int connection, String line) {
        String verb(Protocol protocol) {
            String[] parts = line.split(" ");
            String v = protocol == Protocol.IMAP ? (parts.length > 1 ? parts[1] : "") : parts[0];
            return v.toUpperCase(Locale.ROOT);
        }
    }

    private final Protocol protocol;
    private final Channel server;
    private final AtomicInteger accepted = new AtomicInteger();
    private final List<Received> received = new CopyOnWriteArrayList<>();
    private final Map<Integer, Channel> connections = new ConcurrentHashMap<>();
    private final Map<String, Queue<Fault>> faults = new ConcurrentHashMap<>();
    /** Raw text sent before each NOOP/UNSELECT reply (untagged data the pool must tolerate). */
    volatile String untaggedBeforeReply = "";

    FakeUpstream(Protocol protocol, EventLoopGroup group) throws InterruptedException {
        this.protocol = protocol;
        this.server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        int id = accepted.incrementAndGet();
                        connections.put(id, ch);
                        ch.pipeline().addLast(new LineBasedFrameDecoder(8192), new Connection(id));
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    /** The next {@code verb} (IMAP command name, SMTP verb) meets {@code fault}; queued faults apply in turn. */
    void failNext(String verb, Fault fault) {
        faults.computeIfAbsent(verb.toUpperCase(Locale.ROOT), k -> new ConcurrentLinkedQueue<>()).add(fault);
    }

    List<Received> received() {
        return List.copyOf(received);
    }

    /** The lines connection {@code id} received, in order. */
    List<String> linesOf(int id) {
        List<String> out = new ArrayList<>();
        for (Received r : received) {
            if (r.connection() == id) {
                out.add(r.line());
            }
        }
        return out;
    }

    long count(String verb) {
        return received.stream().filter(r -> r.verb(protocol).equals(verb)).count();
    }

    int accepted() {
        return accepted.get();
    }

    /** The server-side number of the connection whose client end is {@code client}. */
    int idOf(Channel client) {
        int port = ((InetSocketAddress) client.localAddress()).getPort();
        AtomicInteger found = new AtomicInteger();
        // the server may accept a moment after the client's connect completed
        org.awaitility.Awaitility.await().atMost(5, java.util.concurrent.TimeUnit.SECONDS).until(() -> {
            for (Map.Entry<Integer, Channel> e : connections.entrySet()) {
                InetSocketAddress remote = (InetSocketAddress) e.getValue().remoteAddress();
                if (remote != null && remote.getPort() == port) {
                    found.set(e.getKey());
                    return true;
                }
            }
            return false;
        });
        return found.get();
    }

    boolean isOpen(int id) {
        Channel ch = connections.get(id);
        return ch != null && ch.isActive();
    }

    /** Sends {@code text} unasked on connection {@code id}, then closes it when {@code close}. */
    void say(int id, String text, boolean close) {
        Channel ch = connections.get(id);
        ch.writeAndFlush(ByteBufUtil.writeAscii(ch.alloc(), text)).addListener(f -> {
            if (close) {
                ch.close();
            }
        });
    }

    @Override
    public void close() throws InterruptedException {
        server.close().sync();
        for (Channel ch : connections.values()) {
            ch.close().sync();
        }
    }

    private final class Connection extends SimpleChannelInboundHandler<ByteBuf> {
        private final int id;
        private boolean selected;

        Connection(int id) {
            this.id = id;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
            String line = msg.toString(StandardCharsets.UTF_8);
            if (line.endsWith("\r")) {
                line = line.substring(0, line.length() - 1);
            }
            Received r = new Received(id, line);
            received.add(r);
            String verb = r.verb(protocol);
            Queue<Fault> q = faults.get(verb);
            Fault fault = q == null ? null : q.poll();
            String tag = protocol == Protocol.IMAP ? line.split(" ")[0] : "";
            if (fault != null) {
                switch (fault) {
                    case DROP -> ctx.close();
                    case HANG -> { }
                    case WRONG -> reply(ctx, protocol == Protocol.IMAP ? tag + " NO [UNAVAILABLE] Try again later"
                            : "554 5.0.0 Unexpected");
                    case BYE -> {
                        reply(ctx, protocol == Protocol.IMAP ? "* BYE Session invalidated - AccessTokenExpired"
                                : "421 4.4.2 Connection dropped due to SocketError");
                        ctx.close();
                    }
                }
                return;
            }
            reply(ctx, protocol == Protocol.IMAP ? imap(tag, verb, line) : smtp(verb));
        }

        private String imap(String tag, String verb, String line) {
            switch (verb) {
                case "NOOP":
                    return untaggedBeforeReply + tag + " OK NOOP completed.";
                case "UNSELECT":
                    if (!selected) {
                        return tag + " BAD Command received in Invalid state.";
                    }
                    selected = false;
                    return untaggedBeforeReply + tag + " OK UNSELECT completed.";
                case "SELECT": {
                    String mailbox = line.split(" ", 3)[2].replace("\"", "");
                    selected = mailbox.equalsIgnoreCase("INBOX");
                    return selected
                            ? "* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 14] UIDVALIDITY value\r\n"
                                    + tag + " OK [READ-WRITE] SELECT completed."
                            : tag + " NO Mailbox doesn't exist: " + mailbox;
                }
                case "CLOSE":
                    selected = false;
                    return tag + " OK CLOSE completed.";
                default:
                    return tag + " BAD Command Error. 10";
            }
        }

        private String smtp(String verb) {
            return switch (verb) {
                case "NOOP" -> "250 2.0.0 OK";
                case "RSET" -> "250 2.0.0 Resetting";
                case "MAIL" -> "250 2.1.0 Sender OK";
                case "EHLO" -> "250-outlook.office365.com Hello\r\n250-SIZE 157286400\r\n250 SMTPUTF8";
                default -> "500 5.3.3 Unrecognized command";
            };
        }

        private void reply(ChannelHandlerContext ctx, String text) {
            ctx.writeAndFlush(ByteBufUtil.writeAscii(ctx.alloc(), text + "\r\n"));
        }
    }
}
