package io.mailproxy.pop3.upstream;

import io.mailproxy.pop3.codec.Pop3Data;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.Flow;
import java.util.function.Consumer;

/**
 * Streams a message's {@code $value} ({@link io.mailproxy.core.graph.GraphMail#download}) to the client as
 * {@link Pop3Data}, after the {@code +OK} the maildrop wrote: the encoder dot-stuffs it (RFC 1939 section 3) and ends it
 * with {@code .CRLF}; a bare LF becomes CRLF on the way (POP3 lines end in CRLF). For TOP, stops after the header,
 * its blank line and {@code lines} lines of the body, and cancels the download.
 *
 * <p>Backpressure: one item (a list of buffers) is requested at a time, and the next only once the client channel is
 * writable again or everything written so far is out; so the message is never held whole, only what the client's
 * write buffer and the Graph client's bounded buffer hold. Every signal hops to the client's event loop, where all the
 * state lives; buffers are copied there (the publisher may reuse its own once {@code onNext} returns).
 */
final class GraphBodyStream implements Flow.Subscriber<List<ByteBuffer>> {
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(GraphBodyStream.class);

    private final Channel client;
    private final EventLoop loop;
    /** TOP's line count after the header, -1 for RETR. */
    private final long topLines;
    private final Runnable completed;
    private final Consumer<Throwable> failed;

    private Flow.Subscription subscription;
    /** Ended: completed, failed, cut short (TOP) or cancelled; nothing more is written. */
    private boolean finished;
    private boolean demanded;
    private int pendingWrites;
    /** The previous byte of the body (for bare LF), and the line-counting state of TOP. */
    private byte last;
    private boolean inHeader = true;
    private boolean emptyLine = true;
    private long linesLeft;

    /**
     * @param topLines  TOP's line count, or -1 for RETR's whole message
     * @param completed runs once the body and its terminator are written (the client's loop)
     * @param failed    runs when the download failed after the status line went out (the client's loop)
     */
    GraphBodyStream(Channel client, long topLines, Runnable completed, Consumer<Throwable> failed) {
        this.client = client;
        this.loop = client.eventLoop();
        this.topLines = topLines;
        this.linesLeft = topLines;
        this.completed = completed;
        this.failed = failed;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
        loop.execute(() -> {
            if (subscription != null || finished) {
                s.cancel();
                return;
            }
            subscription = s;
            demand();
        });
    }

    @Override
    public void onNext(List<ByteBuffer> item) {
        loop.execute(() -> accept(item));
    }

    @Override
    public void onError(Throwable t) {
        loop.execute(() -> {
            if (!finished) {
                finished = true;
                failed.accept(t);
            }
        });
    }

    @Override
    public void onComplete() {
        loop.execute(() -> {
            if (!finished) {
                end();
            }
        });
    }

    /** Stops the download (client gone, session ended); nothing more is written. On the client's loop. */
    void cancel() {
        finished = true;
        if (subscription != null) {
            try {
                subscription.cancel();
            } catch (RuntimeException e) {
                // Flow's rule 3.15: cancel returns normally; one that does not must not cost the client its reply
                log.debug("cancelling a Graph download failed", e);
            }
        }
    }

    private void accept(List<ByteBuffer> item) {
        demanded = false;
        if (finished) {
            return;
        }
        int octets = 0;
        for (ByteBuffer b : item) {
            octets += b.remaining();
        }
        ByteBuf out = client.alloc().buffer(octets + 16);
        boolean cut = false;
        for (ByteBuffer b : item) {
            if (copy(b, out)) {
                cut = true;
                break;
            }
        }
        if (out.isReadable()) {
            pendingWrites++;
            client.writeAndFlush(new Pop3Data(out)).addListener(f -> {
                pendingWrites--;
                if (!f.isSuccess()) {
                    cancel(); // the client is gone; the session abandons the maildrop
                } else {
                    demand();
                }
            });
        } else {
            out.release();
        }
        if (cut) {
            cancel();
            end();
        } else {
            demand();
        }
    }

    /**
     * Copies {@code b} into {@code out} with bare LF made CRLF, in runs between bare LFs (never byte by byte into the
     * ByteBuf); true when TOP has all it needs (the rest is dropped).
     */
    private boolean copy(ByteBuffer b, ByteBuf out) {
        int from = b.position();
        int end = b.limit();
        for (int i = from; i < end; i++) {
            byte c = b.get(i);
            byte previous = last;
            last = c;
            if (c != '\n') {
                if (c != '\r') {
                    emptyLine = false;
                }
                continue;
            }
            if (previous != '\r') {
                out.writeBytes(b.duplicate().position(from).limit(i));
                out.writeByte('\r');
                from = i;
            }
            if (topLines >= 0 && endOfLine()) {
                out.writeBytes(b.duplicate().position(from).limit(i + 1));
                return true;
            }
            emptyLine = true;
        }
        out.writeBytes(b.duplicate().position(from).limit(end));
        return false;
    }

    /** TOP: a line ended; true when it was the last one wanted. */
    private boolean endOfLine() {
        if (inHeader) {
            // the empty line ends the header (RFC 5322 section 2.1)
            inHeader = !emptyLine;
            return !inHeader && linesLeft == 0;
        }
        return --linesLeft == 0;
    }

    /** Asks for the next item once the client can take it: its channel writable, or all earlier writes out. */
    private void demand() {
        if (!finished && !demanded && subscription != null && (pendingWrites == 0 || client.isWritable())) {
            demanded = true;
            subscription.request(1);
        }
    }

    private void end() {
        finished = true;
        client.writeAndFlush(Pop3Data.END).addListener(f -> completed.run());
    }
}
