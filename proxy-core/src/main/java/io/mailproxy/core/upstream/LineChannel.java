package io.mailproxy.core.upstream;

import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Line-level reading for the login dialogue: bytes are kept until a line is asked for, so nothing the upstream sent
 * after the last expected reply is consumed by accident (the STARTTLS guard and the hand-over check rely on it).
 * Reads are explicit (AUTO_READ is off); each wait for a line is bounded by the reply timeout.
 */
final class LineChannel extends ChannelInboundHandlerAdapter {

    static final String NAME = "upstream-login";

    private final int maxLine;
    private final Duration replyTimeout;
    private final Consumer<UpstreamException> onFailure;
    private ChannelHandlerContext ctx;
    /** Bytes received and not yet read as lines; null while there are none (no buffer is held between replies). */
    private ByteBuf buffer;
    private boolean removed;
    private CompletableFuture<String> pending;
    private ScheduledFuture<?> timer;
    private String waitingFor = "the greeting";

    LineChannel(int maxLine, Duration replyTimeout, Consumer<UpstreamException> onFailure) {
        this.maxLine = maxLine;
        this.replyTimeout = replyTimeout;
        this.onFailure = onFailure;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        removed = true;
        cancelTimer();
        releaseBuffer();
    }

    private void releaseBuffer() {
        if (buffer != null) {
            buffer.release();
            buffer = null;
        }
    }

    /** Bytes received and not yet read as a line. */
    int buffered() {
        return buffer == null ? 0 : buffer.readableBytes();
    }

    /** The next line, without its CRLF; {@code what} names the reply in a timeout message. */
    CompletableFuture<String> readLine(String what) {
        if (pending != null) {
            throw new IllegalStateException("a line is already awaited");
        }
        waitingFor = what;
        CompletableFuture<String> f = new CompletableFuture<>();
        pending = f;
        if (!deliver()) {
            if (!replyTimeout.isZero() && !replyTimeout.isNegative()) {
                timer = ctx.executor().schedule(() -> fail(new UpstreamException(Kind.TIMED_OUT,
                        "no reply from upstream within " + replyTimeout.toMillis() + " ms while waiting for " + waitingFor)),
                        replyTimeout.toNanos(), TimeUnit.NANOSECONDS);
            }
            ctx.read();
        }
        return f;
    }

    /** Writes {@code line} and CRLF; a failed write fails the dialogue. */
    ChannelFuture send(String line) {
        ByteBuf out = ctx.alloc().buffer(line.length() + 2);
        out.writeCharSequence(line, StandardCharsets.UTF_8);
        out.writeByte('\r').writeByte('\n');
        return ctx.writeAndFlush(out).addListener(f -> {
            if (!f.isSuccess()) {
                fail(Failures.classify(f.cause(), "writing to upstream"));
            }
        });
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (msg instanceof ByteBuf in && !removed && in.isReadable()) {
                if (buffer == null) {
                    buffer = ctx.alloc().buffer(Math.max(256, in.readableBytes()));
                }
                buffer.writeBytes(in);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
        deliver();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (pending != null) {
            ctx.read();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        fail(new UpstreamException(Kind.UNREACHABLE, "upstream closed the connection while we waited for " + waitingFor));
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        fail(Failures.classify(cause, "waiting for " + waitingFor));
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent hs && !hs.isSuccess()) {
            // a failed or timed-out handshake closes the channel; say why before channelInactive says "closed"
            fail(Failures.classify(hs.cause(), "in the TLS handshake"));
        }
        ReferenceCountUtil.release(evt);
    }

    /** Completes the awaited line if the buffer holds one; true if it did. */
    private boolean deliver() {
        if (pending == null || buffer == null) {
            return false;
        }
        int lf = buffer.indexOf(buffer.readerIndex(), buffer.writerIndex(), (byte) '\n');
        if (lf < 0) {
            if (buffer.readableBytes() > maxLine) {
                fail(new UpstreamException(Kind.PROTOCOL_ERROR, "upstream sent a line longer than " + maxLine
                        + " bytes while we waited for " + waitingFor));
            }
            return false;
        }
        int end = lf > buffer.readerIndex() && buffer.getByte(lf - 1) == '\r' ? lf - 1 : lf;
        String line = buffer.toString(buffer.readerIndex(), end - buffer.readerIndex(), StandardCharsets.UTF_8);
        buffer.readerIndex(lf + 1);
        if (buffer.isReadable()) {
            buffer.discardReadBytes();
        } else {
            // a channel dropped between replies (or abandoned at shutdown) then holds no buffer to leak
            releaseBuffer();
        }
        CompletableFuture<String> f = pending;
        pending = null;
        cancelTimer();
        f.complete(line);
        return true;
    }

    private void fail(UpstreamException e) {
        cancelTimer();
        CompletableFuture<String> f = pending;
        pending = null;
        onFailure.accept(e);
        if (f != null) {
            f.completeExceptionally(e);
        }
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /** For debug output of received bytes that must not be there. */
    String bufferedHexHead() {
        return buffer == null ? "" : ByteBufUtil.hexDump(buffer, buffer.readerIndex(), Math.min(32, buffer.readableBytes()));
    }
}
