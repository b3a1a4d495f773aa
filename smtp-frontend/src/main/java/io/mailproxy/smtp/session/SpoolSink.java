package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.queue.Spool;
import io.netty.buffer.ByteBuf;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Store-and-forward ({@code smtp.queue = true}): nothing goes upstream. MAIL, RCPT and DATA are answered here, the
 * message streams into a {@link Spool.Writer} (the client is not read while a write is pending; every write and
 * fsync runs on the blocking executor), and the final reply, {@code 250 2.0.0 Queued as ID}, comes only once the
 * message and its envelope are fsynced (DESIGN rule 5).
 */
final class SpoolSink extends FileSink {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);

    private final Spool spool;
    private final String client;
    private final boolean rewrite;
    private Spool.Writer writer;

    /**
     * @param client  the local login, recorded in the envelope
     * @param rewrite the envelope sender becomes the account's address
     */
    SpoolSink(Transaction t, Events events, Spool spool, String client, boolean rewrite) {
        super(t, events);
        this.spool = spool;
        this.client = client;
        this.rewrite = rewrite;
    }

    @Override
    public void mail(Consumer<SmtpReply> reply) {
        String size = t.mail.parameters().get("SIZE");
        if (spool.full() || (size != null && spool.usedBytes() + Long.parseLong(size) > spool.maxSize())) {
            log.warn("[{}] the spool is full ({} octets): message refused with 452 4.3.1", events.sid(),
                    spool.usedBytes());
            reply.accept(SmtpReplies.SPOOL_FULL);
            return;
        }
        t.phase = Transaction.Phase.OPEN;
        reply.accept(SmtpReplies.SENDER_OK);
    }

    @Override
    public void data(Consumer<SmtpReply> reply) {
        writer = spool.newMessage();
        reply.accept(SmtpReplies.START_INPUT);
    }

    @Override
    public boolean accepting() {
        return true;
    }

    @Override
    CompletableFuture<Void> store(ByteBuf bytes) {
        return writer.write(bytes);
    }

    @Override
    String writeFailed() {
        return "writing to the spool failed";
    }

    @Override
    SmtpReply stored() {
        if (!writer.overflowed()) {
            return null;
        }
        log.warn("[{}] the spool filled up during DATA: message refused with 452 4.3.1", events.sid());
        return SmtpReplies.SPOOL_FULL;
    }

    /**
     * After the client's CRLF.CRLF: the rest of the rewritten header (if any) is written, then the message and its
     * envelope are fsynced; the 250 comes only after that (DESIGN rule 5).
     */
    @Override
    public void end(ByteBuf rest, long size, Consumer<SmtpReply> reply) {
        if (rest != null) {
            writer.write(rest);
        }
        List<String> parameters = new ArrayList<>();
        String body = t.mail.parameters().get("BODY");
        if (body != null) {
            parameters.add("BODY=" + body.toUpperCase(java.util.Locale.ROOT));
        }
        if (t.mail.parameters().containsKey("SMTPUTF8")) {
            parameters.add("SMTPUTF8");
        }
        List<String> rcpts = t.accepted;
        writer.commit(t.account.name(), client, rewrite ? t.account.from() : t.mail.address(), t.mail.address(),
                parameters, rcpts).whenComplete((env, failure) -> events.onLoop(() -> {
                    SmtpReply r;
                    if (failure == null) {
                        events.count("queued");
                        log.info("[{}] message of {} octets for {} recipient(s) queued as {}", events.sid(), size,
                                rcpts.size(), env.id());
                        r = SmtpReplies.queued(env.id());
                    } else if (writer.overflowed()) {
                        r = SmtpReplies.SPOOL_FULL;
                    } else {
                        log.error("[{}] the message could not be queued: {}", events.sid(),
                                SmtpSession.unwrap(failure).toString());
                        r = SmtpReplies.NOT_QUEUED;
                    }
                    if (!events.current()) {
                        if (failure == null) {
                            log.info("[{}] client left before the 250 for {}; the message stays queued", events.sid(),
                                    env.id());
                        }
                        return;
                    }
                    reply.accept(r);
                    events.resume();
                }));
    }

    @Override
    public void drop() {
        // the writer is aborted when the transaction ends: nothing of the message is committed
    }

    @Override
    public void close(boolean inData) {
        if (writer != null && !t.phase.committed()) {
            writer.abort();
        }
    }

    @Override
    public void abandon(boolean inData) {
        if (writer != null && !t.phase.committed()) {
            log.info("[{}] client left in the middle of a message; nothing of it is queued", events.sid());
            events.count("aborted");
            writer.abort();
        }
    }
}
