package io.mailproxy.pop3.upstream;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.core.graph.GraphException;
import io.mailproxy.core.graph.GraphMail;
import io.mailproxy.core.graph.MessagePage;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.pop3.codec.Pop3Command;
import io.mailproxy.pop3.codec.Pop3Response;
import io.netty.channel.Channel;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a POP3 maildrop from a Microsoft Graph mail folder ({@link GraphMail}, {@code pop3.source = graph}). The
 * maildrop is the folder as it stood at login, every page of {@link GraphMail#list} (RFC 1939 fixes message numbers
 * for the session, {@link GraphListing}); only-unseen lists the unread messages. Sizes are Exchange's estimates
 * ({@code PidTagMessageSize}, not the length of the MIME that RETR sends: microsoft-graph-docs-contrib
 * {@code outlook-get-mime-message.md} says Exchange regenerates the MIME; Exchange Online's own POP3 and IMAP sizes
 * are estimates too, docs/research/office365-evidence.md section 6). UIDL is a hash of the immutable id.
 *
 * <p>RETR and TOP stream {@code $value} ({@link GraphBodyStream}); as POP3 over IMAP reads with {@code BODY.PEEK[]},
 * RETR never marks a message read (a GET of {@code $value} does not change isRead). A message gone since the listing
 * (404) gets a plain {@code -ERR}; a throttled or failed download {@code -ERR [SYS/TEMP]}; a download that fails
 * after the {@code +OK} closes the connection (the client sees no terminating dot), as with the IMAP source.
 *
 * <p>DELE only marks; QUIT applies {@code on-delete} to the marked messages ({@link GraphOnDelete}); a session that
 * ends any other way changes nothing. Threads: state lives on the client's event loop; Graph's futures complete on
 * its own threads and hop back.
 */
final class GraphMaildrop implements Pop3Maildrop {
    private static final Logger log = LoggerFactory.getLogger(GraphMaildrop.class);

    private final GraphMail graph;
    private final AccountConfig account;
    private final Channel client;
    private final Pop3Policy policy;
    private final String sessionId;
    private final GraphListing listing;
    private final GraphOnDelete onDelete;
    /** Takes a body nobody will read and cancels it, so the Graph client can release the response. */
    private static final Flow.Subscriber<List<ByteBuffer>> CANCEL = new Flow.Subscriber<>() {
        @Override
        public void onSubscribe(Flow.Subscription s) {
            s.cancel();
        }

        @Override
        public void onNext(List<ByteBuffer> item) { }

        @Override
        public void onError(Throwable t) { }

        @Override
        public void onComplete() { }
    };

    private boolean ended;
    private GraphBodyStream streaming;

    private GraphMaildrop(GraphMail graph, AccountConfig account, Channel client, Pop3Policy policy, String sessionId,
            GraphListing listing, GraphOnDelete onDelete) {
        this.graph = graph;
        this.account = account;
        this.client = client;
        this.policy = policy;
        this.sessionId = sessionId;
        this.listing = listing;
        this.onDelete = onDelete;
    }

    static CompletableFuture<Pop3Maildrop> open(CoreServices services, LocalLogin.Accepted login, Channel client,
            int maxMessages, String sessionId) {
        Pop3Policy policy = login.client().pop3();
        AccountConfig account = login.account();
        GraphOnDelete onDelete;
        try {
            onDelete = GraphOnDelete.of(policy.onDelete());
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(new Pop3ReplyException(
                    Pop3Response.err("[SYS/PERM] Misconfigured on-delete folder"), e.getMessage()));
        }
        GraphMail graph = services.graph();
        GraphListing.Builder found = new GraphListing.Builder(maxMessages);
        return pages(graph, account, policy, found, Optional.empty()).handle((ignored, error) -> {
            if (error != null) {
                throw new CompletionException(listingFailed(policy, account, ImapUpstream.unwrap(error)));
            }
            GraphListing listing = found.build();
            if (found.full()) {
                log.warn("{} POP3 maildrop {} of account {} from Graph: more than {} messages; serving the oldest {}"
                        + " (pop3.max-messages), the rest once those are deleted", sessionId, policy.folder(),
                        account.name(), maxMessages, maxMessages);
            }
            log.debug("{} POP3 maildrop {} of account {} from Graph: {} messages in {} pages", sessionId,
                    policy.folder(), account.name(), listing.pop3().size(), found.pages());
            return new GraphMaildrop(graph, account, client, policy, sessionId, listing, onDelete);
        });
    }

    /** Lists the folder page by page, following {@link MessagePage#next()}, on Graph's threads. */
    private static CompletableFuture<Void> pages(GraphMail graph, AccountConfig account, Pop3Policy policy,
            GraphListing.Builder found, Optional<String> next) {
        return graph.list(account, policy.folder(), policy.onlyUnseen(), next).thenCompose(page -> {
            found.add(page);
            return page.next().isPresent() && !page.next().equals(next) && !found.full()
                    ? pages(graph, account, policy, found, page.next())
                    : CompletableFuture.completedFuture(null);
        });
    }

    /** The login's reply for a listing that failed (DESIGN's errors table), as the session expects it. */
    private static Exception listingFailed(Pop3Policy policy, AccountConfig account, Throwable cause) {
        String what = "Graph listing of folder " + policy.folder() + " of account " + account.name() + " failed: ";
        if (cause instanceof GraphException ge) {
            String said = ge.status() + " " + ge.code() + " " + ge.getMessage()
                    + (ge.requestIds().isEmpty() ? "" : " [" + ge.requestIds() + "]");
            return switch (ge.kind()) {
                case NOT_FOUND -> new Pop3ReplyException(
                        Pop3Response.err("[SYS/PERM] Folder " + policy.folder() + " is not available upstream"),
                        what + said + " (is pop3.folder a well-known name such as inbox, or an existing path?)");
                case NOT_AUTHORISED -> new UpstreamException(UpstreamException.Kind.CREDENTIALS_REJECTED, what
                        + "not authorised" + (ge.status() == 0 ? "" : " (POP3 from Graph needs Mail.ReadWrite on this "
                        + "mailbox: the app's permission, and its access policy or RBAC scope)"), said, ge);
                case THROTTLED -> new UpstreamException(UpstreamException.Kind.THROTTLED, what + "throttled", said, ge);
                case UNAVAILABLE -> new UpstreamException(UpstreamException.Kind.UNREACHABLE, what + "no answer", said, ge);
                default -> new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR, what + ge.kind(), said, ge);
            };
        }
        return cause instanceof Exception e ? e : new IllegalStateException(cause);
    }

    // ---- Pop3Maildrop ---------------------------------------------------------------------------------------------

    @Override
    public String greeting() {
        return listing.pop3().greeting();
    }

    @Override
    public List<String> capabilities() {
        return List.of("TOP", "UIDL");
    }

    @Override
    public void execute(Pop3Command command, Runnable done) {
        if (ended) {
            done.run();
            return;
        }
        listing.pop3().execute(command, client, done, this, (c, i, d) -> download(c, listing.id(i), d));
    }

    // ---- RETR and TOP ---------------------------------------------------------------------------------------------

    private void download(Pop3Command command, String id, Runnable done) {
        CompletableFuture<Flow.Publisher<List<ByteBuffer>>> body;
        try {
            body = graph.download(account, id);
        } catch (RuntimeException e) {
            body = CompletableFuture.failedFuture(e);
        }
        body.whenComplete((publisher, error) -> onLoop(publisher, () -> {
            if (ended) {
                if (publisher != null) {
                    publisher.subscribe(CANCEL); // the session is over: release the response at once
                }
                return;
            }
            if (error != null) {
                noBody(command.message(), ImapUpstream.unwrap(error), done);
                return;
            }
            boolean retr = command.verb() == Pop3Command.Verb.RETR;
            client.write(Pop3Response.ok(retr ? "message follows" : "top of message follows"));
            GraphBodyStream stream = new GraphBodyStream(client, retr ? -1 : command.lines(), () -> {
                streaming = null;
                done.run();
            }, e -> failedMidStream(command.message(), e));
            streaming = stream;
            publisher.subscribe(stream);
        }));
    }

    /**
     * Runs {@code task} on the client's loop; when the loop no longer takes tasks (shut down), a body that arrived is
     * cancelled at once rather than left to the Graph client's reply-timeout.
     */
    private void onLoop(Flow.Publisher<List<ByteBuffer>> publisher, Runnable task) {
        try {
            client.eventLoop().execute(task);
        } catch (RejectedExecutionException e) {
            if (publisher != null) {
                publisher.subscribe(CANCEL);
            }
        }
    }

    /** The download did not start: gone since the listing (plain -ERR), or a temporary failure; the session goes on. */
    private void noBody(int number, Throwable cause, Runnable done) {
        if (cause instanceof GraphException ge && ge.kind() == GraphException.Kind.NOT_FOUND) {
            log.info("{} POP3 message {} of account {} was removed upstream by another client after the listing; "
                    + "answered -ERR (Graph said: {} {})", sessionId, number, account.name(), ge.status(), ge.code());
            reply(Pop3Response.err("Message " + number + " no longer exists (removed by another client)"), done);
            return;
        }
        if (cause instanceof GraphException ge) {
            log.warn("{} POP3 message {} of account {} not downloaded from Graph: {} {} {} {}{}", sessionId, number,
                    account.name(), ge.kind(), ge.status(), ge.code(), ge.getMessage(),
                    ge.requestIds().isEmpty() ? "" : " [" + ge.requestIds() + "]");
        } else {
            log.error("{} POP3 message {} of account {} not downloaded from Graph", sessionId, number, account.name(),
                    cause);
        }
        reply(Pop3Response.err("[SYS/TEMP] The mail server did not send message " + number + ", try again later"),
                done);
    }

    /** The +OK and part of the body went out: only closing tells the client the body is incomplete. */
    private void failedMidStream(int number, Throwable cause) {
        streaming = null;
        ended = true;
        log.warn("{} POP3 message {} of account {}: the Graph download failed mid-stream ({}); closing the session",
                sessionId, number, account.name(), cause instanceof GraphException ge
                        ? ge.kind() + " " + ge.status() + " " + ge.code() + " " + ge.getMessage() : cause.toString());
        client.close();
    }

    // ---- UPDATE ---------------------------------------------------------------------------------------------------

    /** RFC 1939 section 6: QUIT in TRANSACTION enters UPDATE and applies on-delete to the DELE'd messages only. */
    @Override
    public void quit(Runnable done) {
        if (ended) {
            done.run();
            return;
        }
        ended = true;
        List<String> marked = listing.markedIds();
        onDelete.apply(graph, account, marked).whenComplete((failures, error) -> client.eventLoop().execute(() -> {
            int count = marked.size();
            if (error == null && failures.isEmpty()) {
                if (count > 0) {
                    log.info("{} POP3 QUIT: on-delete {} applied to {} messages of account {} through Graph",
                            sessionId, onDelete.describe(), count, account.name());
                }
                reply(OnDeletePlan.signingOff(policy.onDelete(), count), done);
                return;
            }
            int failed = error == null ? failures.size() : count;
            log.warn("{} POP3 QUIT: on-delete {} failed for {} of {} messages of account {} through Graph: {}",
                    sessionId, onDelete.describe(), failed, count, account.name(),
                    error == null ? failures.get(0) : error.toString());
            reply(Pop3Response.err("[SYS/TEMP] Some deleted messages not removed (" + failed + " of " + count + ")"),
                    done);
        }));
    }

    @Override
    public void abandon() {
        if (client.eventLoop().inEventLoop()) {
            end();
        } else {
            client.eventLoop().execute(this::end);
        }
    }

    private void end() {
        ended = true;
        if (streaming != null) {
            streaming.cancel();
            streaming = null;
        }
    }

    private void reply(Pop3Response response, Runnable done) {
        Pop3Listing.reply(client, response, done);
    }

    @Override
    public String toString() {
        return "GraphMaildrop[" + policy.folder() + ", on-delete " + onDelete.describe().toLowerCase(Locale.ROOT) + "]";
    }
}
