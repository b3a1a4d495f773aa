package io.mailproxy.core.pool;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One pool-owned command and its reply on an idle upstream channel: the NOOP probe and the reset on release.
 *
 * <p>Added after {@code "tls"} for the exchange and removed when it ends, so the pipeline is back to the hand-over
 * shape ({@code "tls"} only, AUTO_READ off). Reads explicitly, one {@code read()} at a time, and stops reading at the
 * final reply, so no byte of a later conversation is consumed.
 *
 * <p>IMAP: untagged responses are tolerated (literals in them are skipped), {@code * BYE} fails the exchange, a
 * continuation request or a foreign tag is a protocol error; the future completes with the tagged line. SMTP:
 * multi-line replies are followed to their last line; the future completes with that line.
 */
final class LineExchange extends ChannelInboundHandlerAdapter {

    static final String NAME = "mpx-pool";
    static final int MAX_LINE = 16 * 1024;
    private static final Pattern LITERAL = Pattern.compile("\\{(\\d{1,10})\\+?}$");
    private static final Pattern SMTP_LINE = Pattern.compile("^(\\d{3})([ -]|$).*");

    private final Protocol protocol;
    private final String tag;
    private final String command;
    private final CompletableFuture<String> result = new CompletableFuture<>();
    private ChannelHandlerContext ctx;
    private ByteBuf pending;
    private long literalLeft;
    private boolean continuing;
    private boolean finished;

    private LineExchange(Protocol protocol, String tag, String command) {
        this.protocol = protocol;
        this.tag = tag;
        this.command = command;
    }

    /**
     * Sends {@code command} (IMAP: prefixed with {@code tag}) and completes with the final reply line, or fails with
     * {@link UpstreamException}. Must be called on the channel's event loop with AUTO_READ off and no handler
     * after {@code "tls"}.
     */
    static CompletableFuture<String> run(Channel channel, Protocol protocol, String tag, String command,
                                         ScheduledExecutorService scheduler, Duration timeout) {
        LineExchange exchange = new LineExchange(protocol, tag, command);
        ChannelPipeline pipeline = channel.pipeline();
        if (!channel.isActive()) {
            return CompletableFuture.failedFuture(
                    new UpstreamException(Kind.UNREACHABLE, "upstream connection already closed"));
        }
        if (pipeline.get("tls") != null) {
            pipeline.addAfter("tls", NAME, exchange);
        } else {
            pipeline.addFirst(NAME, exchange);
        }
        ScheduledFuture<?> timer;
        try {
            timer = scheduler.schedule(() -> onTimeout(channel, exchange, timeout), timeout.toMillis(),
                    TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            exchange.fail(new UpstreamException(Kind.UNREACHABLE, "mailproxy is shutting down", null, e));
            return exchange.result;
        }
        exchange.result.whenComplete((line, err) -> timer.cancel(false));
        exchange.start();
        return exchange.result;
    }

    private static void onTimeout(Channel channel, LineExchange exchange, Duration timeout) {
        try {
            channel.eventLoop().execute(() -> exchange.fail(new UpstreamException(Kind.TIMED_OUT,
                    "no reply to " + exchange.verb() + " within " + timeout)));
        } catch (RejectedExecutionException e) {
            channel.close(); // its event loop is gone: nothing will ever answer
        }
    }

    /** The tagged line's status word (OK, NO, BAD), upper-cased; empty when there is none. */
    static String imapStatus(String taggedLine) {
        String[] parts = taggedLine.split(" ", 3);
        return parts.length < 2 ? "" : parts[1].toUpperCase(Locale.ROOT);
    }

    /** The SMTP reply code of a final line, or -1. */
    static int smtpCode(String line) {
        Matcher m = SMTP_LINE.matcher(line);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    private String verb() {
        int sp = command.indexOf(' ');
        return sp < 0 ? command : command.substring(0, sp);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        // no buffer yet: one is held only while reply bytes are unread, so an exchange cut short by a shutdown
        // (its event loop gone before the handler could be removed) holds nothing
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (pending != null) {
            pending.release();
            pending = null;
        }
        if (!finished && !result.isDone()) {
            result.completeExceptionally(new UpstreamException(Kind.PROTOCOL_ERROR, "pool exchange interrupted"));
        }
    }

    private void start() {
        String line = protocol == Protocol.IMAP ? tag + " " + command + "\r\n" : command + "\r\n";
        ctx.writeAndFlush(ByteBufUtil.writeAscii(ctx.alloc(), line)).addListener(f -> {
            if (!f.isSuccess()) {
                fail(new UpstreamException(Kind.UNREACHABLE, "could not send " + verb() + " upstream", null,
                        f.cause()));
            }
        });
        requestRead();
    }

    private void requestRead() {
        if (!result.isDone()) {
            ctx.read();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ReferenceCountUtil.release(msg);
            fail(new UpstreamException(Kind.PROTOCOL_ERROR, "unexpected message " + msg.getClass().getName()));
            return;
        }
        try {
            if (result.isDone()) {
                return;
            }
            if (pending == null) {
                pending = ctx.alloc().heapBuffer(Math.max(256, in.readableBytes()));
            }
            pending.writeBytes(in);
        } finally {
            in.release();
        }
        process();
    }

    private void process() {
        while (!result.isDone()) {
            if (literalLeft > 0) {
                int skip = (int) Math.min(literalLeft, pending.readableBytes());
                pending.skipBytes(skip);
                literalLeft -= skip;
                if (literalLeft > 0) {
                    break;
                }
            }
            int lf = pending.indexOf(pending.readerIndex(), pending.writerIndex(), (byte) '\n');
            if (lf < 0) {
                if (pending.readableBytes() > MAX_LINE) {
                    fail(new UpstreamException(Kind.PROTOCOL_ERROR, "upstream reply line longer than " + MAX_LINE));
                }
                break;
            }
            int len = lf - pending.readerIndex();
            String line = pending.toString(pending.readerIndex(), len, StandardCharsets.UTF_8);
            pending.readerIndex(lf + 1);
            if (line.endsWith("\r")) {
                line = line.substring(0, line.length() - 1);
            }
            onLine(line);
        }
        if (pending != null) {
            if (pending.isReadable()) {
                pending.discardSomeReadBytes();
            } else {
                pending.release();
                pending = null;
            }
        }
    }

    private void onLine(String line) {
        if (protocol == Protocol.IMAP) {
            onImapLine(line);
        } else {
            onSmtpLine(line);
        }
    }

    private void onImapLine(String line) {
        Matcher literal = LITERAL.matcher(line);
        if (literal.find()) {
            // An untagged response carrying a literal (a FETCH still pending from the session): skip its bytes.
            if (!line.startsWith("* ") && literalLeft == 0 && !continuing) {
                fail(protocolError(line));
                return;
            }
            literalLeft = Long.parseLong(literal.group(1));
            continuing = true;
            return;
        }
        if (continuing) {
            continuing = false; // the rest of an untagged response after a literal
            return;
        }
        if (line.regionMatches(true, 0, "* BYE", 0, 5)) {
            fail(new UpstreamException(Kind.UNREACHABLE, "upstream ended the session during " + verb(), line, null));
            ctx.channel().close();
            return;
        }
        if (line.startsWith("* ")) {
            return; // untagged data (EXISTS, EXPUNGE, OK [ALERT] ...) is tolerated
        }
        if (line.startsWith(tag + " ")) {
            succeed(line);
            return;
        }
        fail(protocolError(line));
    }

    private void onSmtpLine(String line) {
        Matcher m = SMTP_LINE.matcher(line);
        if (!m.matches()) {
            fail(protocolError(line));
            return;
        }
        if ("-".equals(m.group(2))) {
            return;
        }
        succeed(line);
    }

    private UpstreamException protocolError(String line) {
        return new UpstreamException(Kind.PROTOCOL_ERROR, "unexpected upstream reply to " + verb(),
                line.length() > 200 ? line.substring(0, 200) : line, null);
    }

    private void succeed(String line) {
        if ((pending != null && pending.isReadable()) || literalLeft > 0) {
            fail(new UpstreamException(Kind.PROTOCOL_ERROR, "upstream sent more than its reply to " + verb(),
                    line, null));
            return;
        }
        finish();
        result.complete(line);
    }

    private void fail(UpstreamException e) {
        if (result.isDone()) {
            return;
        }
        finish();
        result.completeExceptionally(e);
    }

    private void finish() {
        finished = true;
        if (ctx != null && !ctx.isRemoved()) {
            ctx.pipeline().remove(this);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        requestRead();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        fail(new UpstreamException(Kind.UNREACHABLE, "upstream closed the connection during " + verb()));
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        fail(new UpstreamException(Kind.UNREACHABLE, "upstream connection failed during " + verb(), null, cause));
        ctx.close();
    }
}
