package io.mailproxy.pop3.upstream;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.graph.GraphException;
import io.mailproxy.core.graph.GraphMail;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What QUIT does through Graph to the messages the client marked with DELE (RFC 1939 section 6, the UPDATE state):
 * <ul>
 *   <li>{@code expunge}: {@code DELETE .../messages/{id}}, Graph's soft delete: the message leaves the folder without
 *       passing through Deleted Items, as with the IMAP source's UID EXPUNGE, and stays recoverable (Recover Deleted
 *       Items) for the retention period, 14 days by default (graph-evidence.md section 7; message-delete.md names
 *       recoverableitemsdeletions; not confirmed by Microsoft: that Exchange Online keeps an IMAP-expunged message
 *       there too). Users who expect POP3 deletions in Deleted Items configure {@code move:deleteditems} (or
 *       {@code move:\Trash}); {@code permanentDelete} is never used (global cloud only, and not reversible);
 *   <li>{@code keep}: nothing; {@code seen}: {@code PATCH isRead = true};
 *   <li>{@code move:FOLDER}: {@code POST .../move} to a well-known name ({@code deleteditems}, {@code archive},
 *       {@code junkemail}, ...) or a path; the RFC 6154 names map to Graph's well-known ones: {@code \Trash} →
 *       deleteditems, {@code \Archive} → archive, {@code \Junk} → junkemail, {@code \Sent} → sentitems,
 *       {@code \Drafts} → drafts (well-known names are locale-independent, mailFolder resource page).
 * </ul>
 * A message already gone (404) counts as done, as UID STORE/EXPUNGE skip a missing UID; for a move, only once a GET
 * shows the message itself is gone (a 404 may also mean the destination folder does not exist). At most
 * {@link #CONCURRENCY} requests are in flight: Outlook allows 4 concurrent requests per app and mailbox
 * (microsoft-graph-docs-contrib {@code concepts/throttling-limits.md}).
 */
final class GraphOnDelete {
    static final int CONCURRENCY = 4;
    static final Map<String, String> SPECIAL_USE = Map.of("\\TRASH", "deleteditems", "\\ARCHIVE", "archive",
            "\\JUNK", "junkemail", "\\SENT", "sentitems", "\\DRAFTS", "drafts");

    private final OnDelete onDelete;
    /** For move: the destination as Graph takes it. */
    private final String destination;

    private GraphOnDelete(OnDelete onDelete, String destination) {
        this.onDelete = onDelete;
        this.destination = destination;
    }

    /** @throws IllegalArgumentException for a move to a special-use name Graph has no folder for (the log's text) */
    static GraphOnDelete of(OnDelete onDelete) {
        if (onDelete.kind() != OnDelete.Kind.MOVE) {
            return new GraphOnDelete(onDelete, null);
        }
        String folder = onDelete.moveTo().orElseThrow();
        if (!folder.startsWith("\\")) {
            return new GraphOnDelete(onDelete, folder);
        }
        String wellKnown = SPECIAL_USE.get(folder.toUpperCase(Locale.ROOT));
        if (wellKnown == null) {
            throw new IllegalArgumentException("on-delete move:" + folder + " has no Graph folder; use \\Trash, "
                    + "\\Archive, \\Junk, \\Sent, \\Drafts, a well-known name such as deleteditems, or a path");
        }
        return new GraphOnDelete(onDelete, wellKnown);
    }

    /**
     * Applies the policy to {@code ids}; completes (on Graph's threads) with one line per message it could not
     * apply to, empty when all went well. Never fails.
     */
    CompletableFuture<List<String>> apply(GraphMail graph, AccountConfig account, List<String> ids) {
        List<String> failures = new CopyOnWriteArrayList<>();
        if (ids.isEmpty() || onDelete.kind() == OnDelete.Kind.KEEP) {
            return CompletableFuture.completedFuture(failures);
        }
        AtomicInteger next = new AtomicInteger();
        CompletableFuture<?>[] workers = new CompletableFuture<?>[Math.min(CONCURRENCY, ids.size())];
        for (int w = 0; w < workers.length; w++) {
            workers[w] = work(graph, account, ids, next, failures);
        }
        return CompletableFuture.allOf(workers).thenApply(v -> failures);
    }

    private CompletableFuture<Void> work(GraphMail graph, AccountConfig account, List<String> ids, AtomicInteger next,
            List<String> failures) {
        int i = next.getAndIncrement();
        if (i >= ids.size()) {
            return CompletableFuture.completedFuture(null);
        }
        String id = ids.get(i);
        return one(graph, account, id)
                .handle((ok, error) -> {
                    if (error != null) {
                        Throwable t = ImapUpstream.unwrap(error);
                        failures.add("UIDL " + GraphListing.uniqueId(id) + ": " + (t instanceof GraphException ge
                                ? ge.kind() + " " + ge.status() + " " + ge.code() + " " + ge.getMessage() : t.toString()));
                    }
                    return null;
                })
                .thenCompose(v -> work(graph, account, ids, next, failures));
    }

    private CompletableFuture<Void> one(GraphMail graph, AccountConfig account, String id) {
        CompletableFuture<Void> call;
        try {
            call = switch (onDelete.kind()) {
                case EXPUNGE -> graph.delete(account, id);
                case SEEN -> graph.markRead(account, id);
                case MOVE -> graph.move(account, id, destination);
                case KEEP -> CompletableFuture.completedFuture(null);
            };
        } catch (RuntimeException e) {
            call = CompletableFuture.failedFuture(e);
        }
        return call.handle((ok, error) -> error).thenCompose(error -> {
            if (error == null) {
                return CompletableFuture.completedFuture(null);
            }
            if (!(ImapUpstream.unwrap(error) instanceof GraphException ge) || ge.kind() != GraphException.Kind.NOT_FOUND) {
                return CompletableFuture.failedFuture(error);
            }
            if (onDelete.kind() != OnDelete.Kind.MOVE) {
                return CompletableFuture.completedFuture(null); // gone already
            }
            // the message, or the destination, is missing: only the first is done
            return graph.message(account, id).thenCompose(found -> found.isEmpty()
                    ? CompletableFuture.<Void>completedFuture(null)
                    : CompletableFuture.<Void>failedFuture(new GraphException(GraphException.Kind.NOT_FOUND,
                            ge.status(), ge.code(), "the destination folder " + destination + " was not found",
                            java.util.Optional.empty(), ge)));
        });
    }

    /** The policy as the log names it ({@link OnDeletePlan#describe(OnDelete)}), with Graph's name of a special use. */
    String describe() {
        String named = OnDeletePlan.describe(onDelete);
        return destination == null || destination.equals(onDelete.moveTo().orElse(""))
                ? named : named + " (" + destination + ")";
    }
}
