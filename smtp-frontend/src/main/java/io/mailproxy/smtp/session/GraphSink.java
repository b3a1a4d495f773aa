package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.graph.GraphReplies.GraphFailure;
import io.mailproxy.smtp.graph.GraphSubmission;
import io.mailproxy.smtp.graph.MessageFile;
import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pass-through for an account that sends with Microsoft Graph ({@code send-with = graph}): there is no upstream to
 * ask before the message, so MAIL and RCPT are answered here (the session's own checks apply); DATA streams into a
 * temporary file (the client is not read while a write is pending; writes run on the blocking executor), and at the
 * end the message goes through {@link GraphSubmission}. The client gets {@code 250} only after Graph's
 * {@code 202}, or the mapped failure. The temporary file is removed when the transaction ends, however it ends.
 */
final class GraphSink extends FileSink {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);
    static final SmtpReply ACCEPTED = SmtpReply.of(250, "2.0.0 Message accepted by Microsoft Graph for delivery");

    private final GraphSubmission submission;
    private final Path workDir;
    private final Executor blocking;
    /** The file's writes, in order, on the blocking executor. */
    private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
    private Path file;
    private FileChannel channel;
    private boolean finished;

    GraphSink(Transaction t, Events events, GraphSubmission submission, Path workDir, Executor blocking) {
        super(t, events);
        this.submission = submission;
        this.workDir = workDir;
        this.blocking = blocking;
    }

    @Override
    public void mail(Consumer<SmtpReply> reply) {
        t.phase = Transaction.Phase.OPEN;
        reply.accept(SmtpReplies.SENDER_OK);
    }

    @Override
    public void data(Consumer<SmtpReply> reply) {
        tail = tail.thenRunAsync(this::open, blocking);
        reply.accept(SmtpReplies.START_INPUT);
    }

    /** Blocking: the temporary file (0600) in the work directory (0700). */
    private void open() {
        try {
            GraphSubmission.ensureWorkDirectory(workDir);
            file = Files.createTempFile(workDir, "graph-", ".msg");
            channel = FileChannel.open(file, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Override
    public boolean accepting() {
        return !finished;
    }

    @Override
    String writeFailed() {
        return "writing the message to " + workDir + " failed";
    }

    /** Appends {@code bytes} (ownership taken) after what is already queued for the file. */
    @Override
    CompletableFuture<Void> store(ByteBuf bytes) {
        tail = tail.whenCompleteAsync((v, e) -> {
            try {
                if (e != null) {
                    throw e instanceof RuntimeException re ? re : new java.util.concurrent.CompletionException(e);
                }
                while (bytes.isReadable()) {
                    bytes.readBytes(channel, bytes.readableBytes());
                }
            } catch (IOException io) {
                throw new java.io.UncheckedIOException(io);
            } finally {
                bytes.release();
            }
        }, blocking);
        return tail;
    }

    @Override
    public void end(ByteBuf rest, long size, Consumer<SmtpReply> reply) {
        finished = true;
        if (rest != null) {
            store(rest);
        }
        List<String> rcpts = List.copyOf(t.accepted);
        tail.thenApplyAsync(v -> {
            closeChannel();
            try {
                return MessageFile.of(file);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, blocking).thenCompose(message -> submission.submit(t.account, message, rcpts,
                GraphSubmission.Drafts.none(), GraphSubmission.Mode.PASS_THROUGH, events.sid()))
                .whenComplete((r, failure) -> {
                    closeChannel(); // already closed, unless the last write failed (the file must not stay open)
                    removeFile();
                    events.onLoop(() -> {
                        SmtpReply answer;
                        if (failure != null) {
                            log.error("[{}] the message could not be sent through Graph: {}", events.sid(),
                                    SmtpSession.unwrap(failure).toString());
                            answer = SmtpReplies.NOT_QUEUED;
                            events.count("refused");
                        } else if (r.failure().isEmpty()) {
                            log.info("[{}] message of {} octets for {} recipient(s) accepted by Microsoft Graph (202)",
                                    events.sid(), size, rcpts.size());
                            answer = ACCEPTED;
                            events.count("accepted");
                        } else {
                            answer = refused(r.failure().get());
                            events.count("refused");
                        }
                        if (!events.current()) {
                            log.info("[{}] client left before the reply to its message: {}", events.sid(),
                                    answer.oneLine());
                            return;
                        }
                        reply.accept(answer);
                        events.resume();
                    });
                });
    }

    private SmtpReply refused(GraphFailure f) {
        switch (f.effect()) {
            case CONFIGURATION -> log.warn("[{}] Microsoft Graph refused account {} access: {}; grant the permission it"
                    + " names (Mail.Send; Mail.ReadWrite for drafts) or fix the access policy (docs/OFFICE365.md)",
                    events.sid(), t.account.name(), f.detail());
            case PERMANENT -> log.info("[{}] Microsoft Graph refused the message: {} ({})", events.sid(),
                    f.reply().oneLine(), f.detail());
            default -> log.warn("[{}] message not sent through Microsoft Graph: {} ({})", events.sid(),
                    f.reply().oneLine(), f.detail());
        }
        return f.reply();
    }

    @Override
    public void drop() {
        finished = true;
        discard();
    }

    @Override
    public void close(boolean inData) {
        if (!t.phase.committed()) {
            discard();
        }
    }

    @Override
    public void abandon(boolean inData) {
        if (file != null || inData || t.phase == Transaction.Phase.DATA) {
            if (!t.phase.committed()) {
                log.info("[{}] client left in the middle of a message; nothing of it is sent", events.sid());
                events.count("aborted");
                discard();
            }
        }
    }

    /** Nothing of the message is sent: the file goes once its pending writes are done. */
    private void discard() {
        finished = true;
        tail = tail.handleAsync((v, e) -> {
            closeChannel();
            removeFile();
            return null;
        }, blocking);
    }

    private void closeChannel() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException e) {
                log.debug("closing {}: {}", file, e.toString());
            }
        }
    }

    private void removeFile() {
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                log.warn("cannot remove the temporary message {}: {}", file, e.toString());
            }
        }
    }
}
