package io.mailproxy.smtp.queue;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.smtp.graph.GraphReplies.GraphFailure;
import io.mailproxy.smtp.graph.GraphSubmission;
import io.mailproxy.smtp.graph.MessageFile;
import io.mailproxy.smtp.queue.AttemptResult.Hold;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Queue delivery for accounts that send with Microsoft Graph ({@code send-with = graph}): the spooled message goes
 * through {@link GraphSubmission}; other accounts' messages go to {@code smtp} (the pool). Graph has no
 * per-recipient reply: the recipients due are delivered together or not at all (a signed message's Bcc recipients
 * excepted, which fail for good: docs/QUEUE.md). The draft whose send was asked for is kept in the message's state
 * ({@link DeliveryState#draft()}) so that a retry after a lost {@code 202} does not send twice.
 *
 * <p>Pacing stays the queue's: Exchange Online's sending limits (30 messages a minute, 10,000 recipients a day)
 * hold for Graph too (docs/research/graph-evidence.md, section 5: "This API is subject to the same limits as
 * Exchange Online", microsoft-graph-docs #7889), so a Graph account is paced as an SMTP one.
 */
final class GraphDelivery implements Attempt {

    private final Attempt smtp;
    private final Predicate<AccountConfig> sendsWithGraph;
    private final Function<String, Optional<AccountConfig>> accounts;
    private final Spool spool;
    private final GraphSubmission submission;

    GraphDelivery(Attempt smtp, Predicate<AccountConfig> sendsWithGraph, Function<String, Optional<AccountConfig>> accounts,
                  Spool spool, GraphSubmission submission) {
        this.smtp = smtp;
        this.sendsWithGraph = sendsWithGraph;
        this.accounts = accounts;
        this.spool = spool;
        this.submission = submission;
    }

    @Override
    public CompletableFuture<AttemptResult> deliver(Envelope envelope, List<String> recipients) {
        return deliver(envelope, recipients, null);
    }

    @Override
    public CompletableFuture<AttemptResult> deliver(Envelope env, List<String> recipients, Progress progress) {
        Optional<AccountConfig> account = accounts.apply(env.account());
        if (account.isEmpty() || !sendsWithGraph.test(account.get())) {
            return progress == null ? smtp.deliver(env, recipients) : smtp.deliver(env, recipients, progress);
        }
        MessageFile file;
        try {
            // blocking: the courier runs attempts on the blocking executor
            file = MessageFile.of(spool.messagePath(env.id()));
        } catch (IOException e) {
            return CompletableFuture.completedFuture(AttemptResult.temporary("spool read failed: " + e));
        }
        return submission.submit(account.get(), file, recipients, drafts(progress), GraphSubmission.Mode.QUEUE,
                "queue " + env.id()).thenApply(GraphDelivery::result);
    }

    private static GraphSubmission.Drafts drafts(Progress progress) {
        if (progress == null) {
            return GraphSubmission.Drafts.none();
        }
        return new GraphSubmission.Drafts() {
            @Override
            public Optional<String> pending() {
                return progress.draft();
            }

            @Override
            public void sending(String draftId) throws IOException {
                progress.draft(Optional.of(draftId));
            }

            @Override
            public void cleared() throws IOException {
                progress.draft(Optional.empty());
            }
        };
    }

    /** Graph's outcome as the worker's result: each failure's effect becomes the account's hold. */
    static AttemptResult result(GraphSubmission.Result r) {
        if (r.failure().isEmpty()) {
            return new AttemptResult(r.delivered(), r.failed(), Hold.NONE,
                    "202 Accepted by Microsoft Graph" + (r.failed().isEmpty() ? "" : "; " + r.failed().size()
                            + " recipient(s) failed"));
        }
        GraphFailure f = r.failure().get();
        String last = f.reply().oneLine() + " (" + f.detail() + ")";
        return switch (f.effect()) {
            case PERMANENT -> new AttemptResult(Set.of(), r.failed(), Hold.NONE, last);
            case LOCAL -> new AttemptResult(Set.of(), Map.of(), Hold.NONE, last);
            case CONFIGURATION -> new AttemptResult(Set.of(), Map.of(), Hold.CONFIGURATION, last);
            case QUOTA -> new AttemptResult(Set.of(), Map.of(), Hold.QUOTA, last);
            case THROTTLED -> f.retryAfter().isPresent()
                    ? new AttemptResult(Set.of(), Map.of(), Hold.RETRY_AFTER, last, f.retryAfter())
                    : new AttemptResult(Set.of(), Map.of(), Hold.CONNECTION, last);
            case UNAVAILABLE -> f.retryAfter().isPresent()
                    ? new AttemptResult(Set.of(), Map.of(), Hold.RETRY_AFTER, last, f.retryAfter())
                    : new AttemptResult(Set.of(), Map.of(), Hold.CONNECTION, last);
        };
    }
}
