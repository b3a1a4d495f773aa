package io.mailproxy.pop3.upstream;

import io.mailproxy.core.upstream.UpstreamSession;
import io.mailproxy.pop3.codec.Pop3Command;
import io.mailproxy.pop3.codec.Pop3Response;
import io.mailproxy.pop3.codec.Pop3ResponseScanner;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays a POP3 session to an unpooled, authenticated upstream POP3 connection. Commands go up one at a time in
 * their canonical form (the session parsed them); replies stream down unchanged (they are already byte-stuffed),
 * and the {@link Pop3ResponseScanner} finds where each ends. Backpressure: the upstream is read again only when the
 * client's write of the previous chunk completed. Ending without QUIT closes the upstream without QUIT, so the
 * upstream never enters its UPDATE state and deletes nothing (RFC 1939 section 6).
 */
final class PassThroughBridge implements Pop3Maildrop {
    private static final Logger log = LoggerFactory.getLogger(PassThroughBridge.class);
    private static final int MAX_STATUS_LINE = 4096;

    private final Channel client;
    private final UpstreamSession session;
    private final Channel upstream;
    private final String sessionId;
    private final String account;
    private final Pop3ResponseScanner scanner = new Pop3ResponseScanner(MAX_STATUS_LINE);
    private Runnable done;
    private boolean quitting;
    private boolean ended;
    private boolean inBody;

    private PassThroughBridge(Channel client, UpstreamSession session, String sessionId, String account) {
        this.client = client;
        this.session = session;
        this.upstream = session.channel();
        this.sessionId = sessionId;
        this.account = account;
    }

    /** Takes over the connector's session (hand-over contract: only "tls" in the pipeline, AUTO_READ off). */
    static PassThroughBridge attach(Channel client, UpstreamSession session, String sessionId, String account) {
        PassThroughBridge bridge = new PassThroughBridge(client, session, sessionId, account);
        Channel up = session.channel();
        up.config().setAutoRead(false);
        if (up.eventLoop() == client.eventLoop()) {
            up.pipeline().addLast("pop3-relay", bridge.new UpstreamHandler());
        } else {
            // callbacks run on the client's loop, so the bridge's state needs no locks
            up.pipeline().addLast(client.eventLoop(), "pop3-relay", bridge.new UpstreamHandler());
        }
        up.read();
        return bridge;
    }

    @Override
    public String greeting() {
        return "Logged in, maildrop ready";
    }

    @Override
    public List<String> capabilities() {
        List<String> caps = new ArrayList<>();
        for (String c : session.capabilities()) {
            if (c.equals("TOP") || c.equals("UIDL") || c.startsWith("EXPIRE ") || c.startsWith("LOGIN-DELAY ")) {
                caps.add(c);
            }
        }
        caps.sort(null);
        return caps;
    }

    @Override
    public void execute(Pop3Command command, Runnable whenDone) {
        send(command.line(), command.multiLine(), whenDone);
    }

    @Override
    public void quit(Runnable whenDone) {
        quitting = true;
        send("QUIT", false, whenDone);
    }

    private void send(String line, boolean multiLine, Runnable whenDone) {
        if (ended) {
            whenDone.run();
            return;
        }
        done = whenDone;
        inBody = false;
        scanner.expect(multiLine);
        upstream.writeAndFlush(Unpooled.copiedBuffer(line + "\r\n", StandardCharsets.ISO_8859_1))
                .addListener(f -> {
                    if (!f.isSuccess()) {
                        lost("write to upstream failed: " + f.cause());
                    }
                });
        upstream.read();
    }

    @Override
    public void abandon() {
        if (!ended) {
            ended = true;
            upstream.close();
        }
    }

    private void lost(String why) {
        if (ended) {
            return;
        }
        ended = true;
        log.warn("{} POP3 upstream of account {} lost: {}; closing the session", sessionId, account, why);
        upstream.close();
        if (inBody) {
            // Part of a multi-line response is out already and its terminating "." never comes, so no client can take
            // the message as complete. DESIGN's table still wants the reason in POP3: on a line of its own, then close.
            client.writeAndFlush(Unpooled.copiedBuffer("\r\n-ERR [SYS/TEMP] Upstream connection lost, try again later\r\n",
                    StandardCharsets.US_ASCII)).addListener(ChannelFutureListener.CLOSE);
        } else {
            client.writeAndFlush(Pop3Response.err("[SYS/TEMP] Upstream connection lost, try again later"))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    private final class UpstreamHandler extends ChannelInboundHandlerAdapter {

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf buf) || ended) {
                ReferenceCountUtil.release(msg);
                return;
            }
            int end;
            try {
                if (!scanner.inResponse()) {
                    throw new IllegalStateException("bytes from upstream with no command outstanding");
                }
                end = scanner.scan(buf);
                if (end >= 0 && end < buf.writerIndex()) {
                    throw new IllegalStateException("upstream sent more than the reply to the command");
                }
            } catch (IllegalStateException e) {
                buf.release();
                lost("protocol error: " + e.getMessage());
                return;
            }
            if (end < 0) {
                inBody = true;
                // Inside a body, read on while the client can take more, so more than one chunk is in flight;
                // once it cannot, the next read waits for a write to complete (the water marks bound the memory).
                boolean readNow = client.isWritable();
                client.writeAndFlush(buf).addListener(f -> {
                    if (f.isSuccess() && !ended && !readNow) {
                        upstream.read();
                    }
                });
                if (readNow) {
                    upstream.read();
                }
                return;
            }
            if (!scanner.ok()) {
                log.debug("{} upstream answered: {}", sessionId, scanner.statusLine());
            }
            Runnable whenDone = done;
            done = null;
            inBody = false;
            boolean last = quitting;
            if (last) {
                ended = true;
            }
            client.writeAndFlush(buf).addListener(f -> {
                if (last) {
                    upstream.close();
                } else if (f.isSuccess()) {
                    upstream.read();
                }
                if (whenDone != null) {
                    whenDone.run();
                }
            });
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            lost("upstream closed the connection");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            lost(cause.toString());
        }
    }
}
