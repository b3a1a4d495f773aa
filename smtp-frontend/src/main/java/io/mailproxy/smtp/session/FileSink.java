package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.SmtpReply;
import io.netty.buffer.ByteBuf;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the file-backed sinks share ({@link SpoolSink}, {@link GraphSink}): nothing upstream answers the envelope,
 * so RCPT is accepted here (the session's own checks apply) and a local reply goes out at once; DATA's bytes go to a
 * file off the event loop, and the client is not read while a write is pending.
 */
abstract sealed class FileSink implements MessageSink permits GraphSink, SpoolSink {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);

    final Transaction t;
    final Events events;

    FileSink(Transaction t, Events events) {
        this.t = t;
        this.events = events;
    }

    /** Appends {@code bytes} (ownership taken) to the message's file on the blocking executor. */
    abstract CompletableFuture<Void> store(ByteBuf bytes);

    /** The log's words for a failed {@link #store}, before the cause: {@code writing ... failed}. */
    abstract String writeFailed();

    /** After a {@link #store} that went well, on the loop: the reply that ends the message early, or null. */
    SmtpReply stored() {
        return null;
    }

    @Override
    public void rcpt(String address, Consumer<SmtpReply> reply) {
        reply.accept(SmtpReplies.RECIPIENT_OK);
    }

    @Override
    public void inOrder(SmtpReply local, Consumer<SmtpReply> reply) {
        reply.accept(local);
    }

    @Override
    public final void write(ByteBuf bytes) {
        if (!bytes.isReadable()) {
            bytes.release();
            return;
        }
        t.backpressure = true;
        events.pause();
        store(bytes).whenComplete((v, failure) -> events.onLoop(() -> {
            if (!events.current()) {
                return;
            }
            t.backpressure = false;
            if (failure != null) {
                log.error("[{}] {}: {}", events.sid(), writeFailed(), SmtpSession.unwrap(failure).toString());
                events.failed(SmtpReplies.NOT_QUEUED);
            } else {
                SmtpReply early = stored();
                if (early != null) {
                    events.failed(early);
                }
            }
            events.resume();
        }));
    }

    @Override
    public int outstanding() {
        return 0;
    }

    @Override
    public boolean pipelining() {
        return true;
    }
}
