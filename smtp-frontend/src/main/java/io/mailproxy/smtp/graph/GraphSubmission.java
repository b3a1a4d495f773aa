package io.mailproxy.smtp.graph;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.graph.AttachmentUpload;
import io.mailproxy.core.graph.GraphMail;
import io.mailproxy.core.graph.MessageInfo;
import io.mailproxy.core.graph.MimeSource;
import io.mailproxy.core.graph.Recipients;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.graph.GraphReplies.Effect;
import io.mailproxy.smtp.graph.GraphReplies.GraphFailure;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One message sent through Microsoft Graph, for pass-through ({@code GraphSink}) and the queue ({@code
 * GraphDelivery}) alike: the recipients are the envelope's ({@link RecipientPlan}); equal sets go as they are with
 * {@code sendMail}; otherwise a MIME draft gets the envelope's recipients and is sent; a message over one request's
 * size goes through the streaming split ({@link Splitter}) and an upload per large part; signed or encrypted messages
 * only ever go as they are.
 *
 * <p>Sending is never repeated within one submission: a lost {@code 202} may mean Graph sent it. A draft's id is
 * recorded ({@link Drafts#sending}) before its send; the next submission of the same message finds out what became of
 * it ({@code GET} the id: gone, or no longer a draft, means sent; still a draft means send it again) instead of
 * sending the message a second time. Every step after the header is read runs on {@code blocking}.
 */
public final class GraphSubmission {

    private static final Logger log = LoggerFactory.getLogger(GraphSubmission.class);

    /** The streaming split of a message too big for one request ({@link GraphSplitter#LARGE_MESSAGE} in the daemon). */
    @FunctionalInterface
    public interface Splitter {
        /** @throws Refused when this message cannot be sent through Graph at all (permanent) */
        SplitMessage split(Path message, long maxRequestBytes, Path workDir) throws IOException, Refused;
    }

    /** The split refuses the message for good, with the reply the client (or the bounce) gets. */
    public static final class Refused extends Exception {
        private static final long serialVersionUID = 1L;
        private final transient SmtpReply reply;

        public Refused(SmtpReply reply, String detail) {
            super(detail);
            this.reply = reply;
        }

        public SmtpReply reply() {
            return reply;
        }
    }

    /** A split message: the rest of it small enough for one request, and its large parts; closing removes temp files. */
    public interface SplitMessage extends AutoCloseable {
        MimeSource reduced();

        List<AttachmentUpload> attachments();

        @Override
        void close() throws IOException;
    }

    /** Where the draft of a message in progress is remembered between submissions (the queue's state file). */
    public interface Drafts {
        /** The draft whose send an earlier submission asked for, if any. */
        Optional<String> pending();

        /** Before the send of {@code draftId} is asked for: remember it durably. Blocking. */
        void sending(String draftId) throws IOException;

        /** The draft was sent or deleted: forget it. Blocking. */
        void cleared() throws IOException;

        /** Pass-through: nothing outlives the submission. */
        static Drafts none() {
            return new Drafts() {
                private String id;

                @Override
                public Optional<String> pending() {
                    return Optional.empty();
                }

                @Override
                public void sending(String draftId) {
                    id = draftId;
                }

                @Override
                public void cleared() {
                    id = null;
                }
            };
        }
    }

    /** No split (tests): a message over one request is refused for good (552 5.3.4). */
    public static final Splitter NO_SPLIT = (message, max, workDir) -> {
        throw new Refused(GraphSubmission.TOO_BIG, "no streaming split for messages over " + max + " octets");
    };

    /** Where messages for Graph wait as temporary files: {@code <state-dir>/graph-tmp} (0700), beside the spool. */
    public static Path workDirectory(Path stateDir) {
        return stateDir.resolve("graph-tmp");
    }

    /** Creates {@code dir} (0700) when missing. Blocking. */
    public static void ensureWorkDirectory(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
        }
    }

    /** Removes the temporary files a crash left in {@code dir} (none of them was answered with 250). Blocking. */
    public static void clearWorkDirectory(Path dir) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (var files = Files.newDirectoryStream(dir, "graph-*")) {
            for (Path p : files) {
                deleteQuietly(p);
            }
        } catch (IOException e) {
            log.warn("cannot clear {}: {}", dir, e.toString());
        }
    }

    /** The account's upstream says {@code send-with = graph}. */
    public static boolean sendsWithGraph(MailproxyConfig config, AccountConfig account) {
        UpstreamConfig up = config.upstreams().get(account.upstream());
        return up != null && up.sending() == UpstreamConfig.Sending.GRAPH;
    }

    /** Pass-through answers the whole message with one reply; the queue may fail some recipients for good. */
    public enum Mode { PASS_THROUGH, QUEUE }

    /**
     * What a submission achieved.
     *
     * @param delivered recipients Graph accepted the message for ({@code 202})
     * @param failed    recipients failed for good, with the reply (the queue bounces them)
     * @param failure   why nothing was sent (empty when something was); its effect says what the account's queue does
     */
    public record Result(Set<String> delivered, Map<String, String> failed, Optional<GraphFailure> failure) {

        static Result sent(List<String> recipients) {
            return new Result(new LinkedHashSet<>(recipients), Map.of(), Optional.empty());
        }

        static Result failed(List<String> recipients, GraphFailure f) {
            Map<String, String> failed = new LinkedHashMap<>();
            if (f.effect() == Effect.PERMANENT) {
                recipients.forEach(r -> failed.put(r, f.reply().oneLine()));
            }
            return new Result(Set.of(), failed, Optional.of(f));
        }
    }

    static final SmtpReply SIGNED_TOO_BIG = SmtpReply.of(552, "5.3.4 Signed or encrypted message too big for one"
            + " Microsoft Graph request; it cannot be split without breaking its signature");
    static final SmtpReply SIGNED_BCC = SmtpReply.of(554, "5.7.0 Microsoft Graph cannot add Bcc recipients to a"
            + " signed or encrypted message without breaking it; send it to them separately");
    static final SmtpReply SIGNED_HEADER_ONLY = SmtpReply.of(554, "5.7.0 Microsoft Graph would send this signed or"
            + " encrypted message to To/Cc addresses that are not its recipients; it cannot change them without"
            + " breaking it");
    static final SmtpReply TOO_BIG = SmtpReply.of(552, "5.3.4 Message too big for one Microsoft Graph request");
    static final SmtpReply HEADER_TOO_LARGE = SmtpReply.of(552, "5.3.4 Message header block too large");

    private final Supplier<GraphMail> graphs;
    private final Executor blocking;
    private final Splitter splitter;
    private final Path workDir;
    private final int headerLimit;

    /**
     * @param workDir     where the split's temporary files go (the state dir's spool area)
     * @param headerLimit most octets of header block read for the recipients (smtp.header-limit)
     */
    public GraphSubmission(Supplier<GraphMail> graph, Executor blocking, Splitter splitter, Path workDir,
                           int headerLimit) {
        this.graphs = graph;
        this.blocking = blocking;
        this.splitter = splitter;
        this.workDir = workDir;
        this.headerLimit = headerLimit;
    }

    /**
     * Sends {@code message} to {@code recipients} (the envelope's, all of them due). Never completes exceptionally.
     *
     * @param who the session or queue id, for log lines
     */
    public CompletableFuture<Result> submit(AccountConfig account, MessageFile message, List<String> recipients,
                                            Drafts drafts, Mode mode, String who) {
        return CompletableFuture.supplyAsync(() -> new Run(account, message, recipients, drafts, mode, who).start(),
                        blocking).thenCompose(f -> f)
                .exceptionally(e -> Result.failed(recipients, GraphFailure.local(unwrap(e))));
    }

    private static Throwable unwrap(Throwable e) {
        return e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    }

    /** One submission's steps. */
    private final class Run {
        private final GraphMail graph = graphs.get();
        private final AccountConfig account;
        private final MessageFile message;
        private final List<String> recipients;
        private final Drafts drafts;
        private final Mode mode;
        private final String who;

        Run(AccountConfig account, MessageFile message, List<String> recipients, Drafts drafts, Mode mode, String who) {
            this.account = account;
            this.message = message;
            this.recipients = recipients;
            this.drafts = drafts;
            this.mode = mode;
            this.who = who;
        }

        CompletableFuture<Result> start() {
            Optional<String> pending = drafts.pending();
            if (pending.isPresent()) {
                return resume(pending.get());
            }
            HeaderRecipients headers;
            try (InputStream in = message.open()) {
                headers = HeaderRecipients.read(in, headerLimit);
            } catch (HeaderRecipients.TooLargeException e) {
                return done(Result.failed(recipients, GraphFailure.permanent(HEADER_TOO_LARGE, e.getMessage())));
            } catch (IOException e) {
                return done(Result.failed(recipients, GraphFailure.local(e)));
            }
            RecipientPlan plan = RecipientPlan.of(recipients, headers);
            boolean large = message.size() > graph.maxMimeRequestBytes();
            if (headers.signed()) {
                return signed(plan, large);
            }
            if (!plan.headerOnly().isEmpty()) {
                log.info("[{}] the message's To/Cc/Bcc name {} that are not its SMTP recipients: Graph sends it to the"
                        + " envelope's recipients only, so its visible To/Cc change", who, plan.headerOnly());
            }
            if (large) {
                return large(plan);
            }
            if (plan.asIs()) {
                return graph.sendMime(account, message).handleAsync((v, e) -> e == null ? Result.sent(recipients)
                        : failed(e), blocking);
            }
            return draft(graph.createMimeDraft(account, message), plan.recipients(), List.of());
        }

        /** Signed or encrypted: only sendMail of the message as it is (a rebuilt MIME breaks the signature). */
        private CompletableFuture<Result> signed(RecipientPlan plan, boolean large) {
            if (large) {
                return done(Result.failed(recipients, GraphFailure.permanent(SIGNED_TOO_BIG,
                        message.size() + " octets over " + graph.maxMimeRequestBytes())));
            }
            if (!plan.headerOnly().isEmpty()) {
                return done(Result.failed(recipients, GraphFailure.permanent(SIGNED_HEADER_ONLY,
                        "header-only addresses " + plan.headerOnly())));
            }
            if (!plan.envelopeOnly().isEmpty() && mode == Mode.PASS_THROUGH) {
                return done(Result.failed(recipients, GraphFailure.permanent(SIGNED_BCC,
                        "envelope-only recipients " + plan.envelopeOnly())));
            }
            List<String> sendTo = recipients.stream().filter(r -> !plan.envelopeOnly().contains(r)).toList();
            if (!plan.envelopeOnly().isEmpty()) {
                log.warn("[{}] signed or encrypted message: sent as it is to its To/Cc recipients; {} (Bcc) fail: {}",
                        who, plan.envelopeOnly(), SIGNED_BCC.oneLine());
            }
            return graph.sendMime(account, message).handleAsync((v, e) -> {
                if (e != null) {
                    return failed(e);
                }
                Map<String, String> failed = new LinkedHashMap<>();
                plan.envelopeOnly().forEach(r -> failed.put(r, SIGNED_BCC.oneLine()));
                return new Result(new LinkedHashSet<>(sendTo), failed, Optional.empty());
            }, blocking);
        }

        /** Too big for one request: the split, a draft of the rest, each large part uploaded, then the send. */
        private CompletableFuture<Result> large(RecipientPlan plan) {
            Path copy = null;
            SplitMessage split = null;
            try {
                ensureWorkDirectory(workDir); // the queue's messages never pass GraphSink, which makes it too
                copy = Files.createTempFile(workDir, "graph-", ".eml");
                message.copyTo(copy);
                split = splitter.split(copy, graph.maxMimeRequestBytes(), workDir);
            } catch (Refused e) {
                deleteQuietly(copy);
                log.info("[{}] message of {} octets is over one Graph request ({}) and cannot be split: {}", who,
                        message.size(), graph.maxMimeRequestBytes(), e.getMessage());
                return done(Result.failed(recipients, GraphFailure.permanent(e.reply(), e.getMessage())));
            } catch (IOException | RuntimeException e) {
                deleteQuietly(copy);
                return done(Result.failed(recipients, GraphFailure.local(e)));
            }
            SplitMessage s = split;
            Path c = copy;
            log.info("[{}] message of {} octets is over one Graph request ({}): draft and {} attachment upload(s)", who,
                    message.size(), graph.maxMimeRequestBytes(), s.attachments().size());
            return draft(graph.createMimeDraft(account, s.reduced()), plan.recipients(), s.attachments())
                    .whenComplete((r, e) -> closeQuietly(s, c));
        }

        /** The draft made, its attachments added one at a time, its recipients set, its id recorded, then sent. */
        private CompletableFuture<Result> draft(CompletableFuture<String> created, Recipients to,
                                                List<AttachmentUpload> uploads) {
            return created.handleAsync((id, e) -> {
                if (e != null) {
                    return done(failed(e));
                }
                CompletableFuture<Void> steps = CompletableFuture.completedFuture(null);
                for (AttachmentUpload u : uploads) {
                    steps = steps.thenCompose(v -> graph.addAttachment(account, id, u));
                }
                return steps.thenCompose(v -> graph.setRecipients(account, id, to))
                        .handleAsync((v, f) -> {
                            if (f != null) {
                                GraphFailure failure = GraphReplies.of(f);
                                deleteDraft(id);
                                return done(Result.failed(recipients, failure));
                            }
                            try {
                                drafts.sending(id);
                            } catch (IOException | RuntimeException io) {
                                deleteDraft(id);
                                return done(Result.failed(recipients, GraphFailure.local(io)));
                            }
                            return send(id);
                        }, blocking).thenCompose(x -> x);
            }, blocking).thenCompose(x -> x);
        }

        /** The send of a recorded draft; asked for once. */
        private CompletableFuture<Result> send(String id) {
            return graph.sendDraft(account, id).handleAsync((v, e) -> {
                if (e == null) {
                    clear();
                    return done(Result.sent(recipients));
                }
                GraphFailure f = GraphReplies.of(e);
                if (f.effect() == Effect.PERMANENT) {
                    deleteDraft(id);
                    clear();
                    return done(Result.failed(recipients, f));
                }
                if (mode == Mode.QUEUE) {
                    // the id stays in the state file: the next attempt finds out whether this send happened
                    log.info("[{}] sending draft {} failed ({}); the next attempt checks whether it was sent", who,
                            id, f.detail());
                    return done(Result.failed(recipients, f));
                }
                // pass-through: the client will send the message again, so the draft must not survive unsent
                return graph.message(account, id).handleAsync((info, g) -> {
                    if (g == null && sentAlready(info)) {
                        log.info("[{}] draft {} was sent although its send failed ({}): the reply was lost", who,
                                id, f.detail());
                        return Result.sent(recipients);
                    }
                    if (g == null) {
                        deleteDraft(id);
                    } else {
                        log.warn("[{}] draft {} is left in Drafts: its send failed ({}) and checking it failed ({})",
                                who, id, f.detail(), String.valueOf(unwrap(g)));
                    }
                    return Result.failed(recipients, f);
                }, blocking);
            }, blocking).thenCompose(x -> x);
        }

        /** An earlier submission asked for the send of {@code id}: did it happen? */
        private CompletableFuture<Result> resume(String id) {
            return graph.message(account, id).handleAsync((info, e) -> {
                if (e != null) {
                    return done(failed(e));
                }
                if (sentAlready(info)) {
                    log.info("[{}] draft {} of the earlier attempt is no longer in Drafts: it was sent; not sending it"
                            + " again", who, id);
                    clear();
                    return done(Result.sent(recipients));
                }
                log.info("[{}] draft {} of the earlier attempt is still a draft: sending it again", who, id);
                return send(id);
            }, blocking).thenCompose(x -> x);
        }

        private Result failed(Throwable e) {
            GraphFailure f = GraphReplies.of(e);
            return Result.failed(recipients, f);
        }

        private void clear() {
            try {
                drafts.cleared();
            } catch (IOException | RuntimeException e) {
                log.warn("[{}] cannot forget the sent draft in the state file: {}", who, e.toString());
            }
        }

        /** Best effort, and only while it is still a draft (an immutable id may name the Sent Items copy). */
        private void deleteDraft(String id) {
            graph.message(account, id).thenCompose(info -> info.isPresent() && info.get().draft()
                    ? graph.delete(account, id) : CompletableFuture.completedFuture(null))
                    .whenComplete((v, e) -> {
                        if (e != null) {
                            log.warn("[{}] draft {} could not be deleted and stays in Drafts: {}", who, id,
                                    String.valueOf(unwrap(e)));
                        } else {
                            log.debug("[{}] draft {} deleted", who, id);
                        }
                    });
        }
    }

    /**
     * Gone (404), or no longer a draft (with immutable ids the id may name the Sent Items copy once sent:
     * docs/research/graph-evidence.md, section 4): it was sent.
     */
    private static boolean sentAlready(Optional<MessageInfo> info) {
        return info.isEmpty() || !info.get().draft();
    }

    private static CompletableFuture<Result> done(Result r) {
        return CompletableFuture.completedFuture(r);
    }

    private static void closeQuietly(SplitMessage s, Path copy) {
        try {
            s.close();
        } catch (IOException | RuntimeException e) {
            log.warn("cannot remove the split's temporary files: {}", e.toString());
        }
        deleteQuietly(copy);
    }

    private static void deleteQuietly(Path p) {
        if (p == null) {
            return;
        }
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            log.warn("cannot remove {}: {}", p, e.toString());
        }
    }
}
