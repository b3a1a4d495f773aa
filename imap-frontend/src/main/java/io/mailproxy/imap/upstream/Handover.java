package io.mailproxy.imap.upstream;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.imap.ImapClient;
import io.mailproxy.core.imap.ImapLiteralChunk;
import io.mailproxy.core.imap.ImapMailboxData;
import io.mailproxy.core.imap.ImapResponseLine;
import io.mailproxy.core.imap.ImapResponseListener;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.imap.ImapSettings;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves a relayed session to a fresh pooled connection before the upstream's token expires (Office 365 then ends
 * the session): at a safe point the relay hands over the old connection; this reads the client's view from it
 * ({@code UID SEARCH ALL}), leases a new one, selects the same mailbox the same way, checks that its UIDVALIDITY is
 * unchanged, reads the new view, and says in EXPUNGE and EXISTS what changed between the two. A client in IDLE is
 * taken along: its IDLE is ended upstream with DONE (the tagged OK is not the client's), restarted on the new
 * connection under the client's tag, and that IDLE's "+" is not the client's either.
 *
 * <p>The same steps recover a session the upstream ended ({@link #recover}): the old connection cannot be asked any
 * more, so the old view is the relay's own {@link MessageView}; fresh connections are tried up to
 * {@code recovery-attempts} times with a doubling back-off. The relay owns
 * the session's phase; this owns the timer, the IDLE it carries over, and the connections until the relay takes the
 * new one. Timer and IDLE bookkeeping: event loop (client) only.
 */
final class Handover {

    private static final Logger LOG = LoggerFactory.getLogger(Handover.class);
    private static final String TAG_PREFIX = "mpxh";
    /** The earliest a hand-over is scheduled after a (new) connection starts. */
    private static final long MIN_DELAY_NANOS = TimeUnit.SECONDS.toNanos(30);

    /**
     * The fresh connection, selected as the old one was, ready for the relay; {@code changes} are the untagged
     * EXPUNGE and EXISTS responses (CRLF-terminated, possibly empty) that bring the client's view up to date.
     */
    record Moved(Lease lease, ImapClient imap, String changes, long[] uids, Lease oldLease, ImapClient oldImap) {

        /**
         * The relay took the new connection: the old one, whose token is about to expire, is closed, never pooled
         * (after a recovery there is none: the upstream ended it).
         */
        void retireOld() {
            if (oldImap == null) {
                return;
            }
            oldImap.channel().eventLoop().execute(() -> {
                oldImap.detach();
                oldLease.discard();
            });
        }

        /** The session ended meanwhile: the new connection is closed unused. */
        void abandon() {
            discard(lease, imap);
        }
    }

    /** The client's view on the old connection: the mailbox's UIDs in sequence order (null without a mailbox). */
    private record OldView(ImapClient imap, long[] uids) { }

    /** The new connection, the mailbox selected on it, and its UIDs (empty without a mailbox). */
    private record Fresh(Lease lease, ImapClient imap, long[] uids) { }

    private final ImapSettings settings;
    private final UpstreamPools pools;
    private final AccountConfig account;
    private final Clock clock;
    private final MeterRegistry meters;
    private ScheduledFuture<?> timer;
    private boolean due;
    /** The client's IDLE, ended upstream for the move and restarted after it; null when the client was not idling. */
    private String idleTag;
    /** The restarted IDLE's "+" has not come yet. */
    private boolean idleContinuationDue;

    Handover(ImapSettings settings, UpstreamPools pools, AccountConfig account, Clock clock, MeterRegistry meters) {
        this.meters = meters;
        this.settings = settings;
        this.pools = pools;
        this.account = account;
        this.clock = clock;
    }

    // ---------------------------------------------------------------- when

    /**
     * Arms the hand-over for {@code token-handover-margin} before {@code tokenExpiresAt} (at least 30 s from now);
     * when the time comes it is {@link #due()} and {@code onDue} runs on {@code loop}. Replaces an earlier timer.
     */
    void schedule(ScheduledExecutorService loop, Optional<Instant> tokenExpiresAt, Runnable onDue) {
        cancel();
        if (tokenExpiresAt.isEmpty() || pools == null) {
            return;
        }
        long delay = Duration.between(clock.instant(), tokenExpiresAt.get().minus(settings.tokenHandoverMargin()))
                .toNanos();
        timer = loop.schedule(() -> {
            due = true;
            onDue.run();
        }, Math.max(MIN_DELAY_NANOS, delay), TimeUnit.NANOSECONDS);
    }

    void cancel() {
        if (timer != null) {
            timer.cancel(false);
        }
    }

    /** No pools to take a fresh connection from (a relay without them: tests, tools): nothing can move. */
    boolean disabled() {
        return pools == null;
    }

    /** The token is close to expiry: the session should move at its next safe point. */
    boolean due() {
        return due;
    }

    /** The relay starts the move (or ends the session instead); {@code idleTag}: the client's IDLE, if it idles. */
    void start(String idleTag) {
        due = false;
        this.idleTag = idleTag;
    }

    // ---------------------------------------------------------------- IDLE carried over

    /** The tag of the client's IDLE this move ends and restarts; null when the client was not idling. */
    String idleTag() {
        return idleTag;
    }

    /** The IDLE was restarted on the new connection under the client's tag: its "+" is ours. */
    void idleRestarted() {
        idleTag = null;
        idleContinuationDue = true;
    }

    /** A "+" arrived: true (and consumed) when it answers the restarted IDLE rather than anything of the client's. */
    boolean takeIdleContinuation() {
        boolean ours = idleContinuationDue;
        idleContinuationDue = false;
        return ours;
    }

    /** The restarted IDLE's "+" is still to come: the session is not yet idling on the new connection. */
    boolean awaitsIdleContinuation() {
        return idleContinuationDue;
    }

    // ---------------------------------------------------------------- the move

    /**
     * Moves from {@code old} (idle: no command in flight; the relay's handlers are removed on its loop by
     * {@code detachRelay}) to a fresh connection selecting {@code selection}. Untagged responses the old connection
     * sends meanwhile (EXPUNGE, EXISTS, FETCH) still change the client's view: they go to {@code untagged}, retained.
     * Fails when no connection is to be had, the mailbox cannot be selected, or its UIDVALIDITY changed; a lease
     * taken is then discarded.
     */
    CompletableFuture<Moved> move(Lease old, Optional<SelectedMailbox.Selection> selection, Runnable detachRelay,
                                  Consumer<ByteBuf> untagged) {
        return oldView(old.session().channel(), selection.isPresent(), detachRelay, untagged)
                .thenCompose(view -> fresh(selection).thenApply(fresh -> {
                    if (selection.isPresent() && view.uids() == null) {
                        discard(fresh.lease(), fresh.imap());
                        throw new CompletionException(new IllegalStateException("no UID list from the old connection"));
                    }
                    String changes = view.uids() == null ? "" : reconcile(view.uids(), fresh.uids());
                    return new Moved(fresh.lease(), fresh.imap(), changes, fresh.uids(), old, view.imap());
                }));
    }

    /** The mailbox's UIDVALIDITY changed: the client's UIDs mean nothing any more, no retry helps. */
    static final class UidValidityChanged extends IllegalStateException {
        UidValidityChanged(String message) {
            super(message);
        }
    }

    /**
     * Recovers from an upstream that ended the session: the old connection is gone, so the client's view is
     * {@code clientUids} (the relay's {@link MessageView}; empty without a mailbox). Tries up to
     * {@code recovery-attempts} fresh connections, waiting {@code recovery-backoff} on {@code loop} before the
     * second and doubling it before each next; a changed UIDVALIDITY ends it at once. {@code attempt} is told each
     * try's number (from 1).
     */
    CompletableFuture<Moved> recover(Optional<SelectedMailbox.Selection> selection, long[] clientUids,
                                     ScheduledExecutorService loop, String sessionId) {
        CompletableFuture<Moved> result = new CompletableFuture<>();
        tryRecover(selection, clientUids, loop, sessionId, 1, result);
        return result;
    }

    private void tryRecover(Optional<SelectedMailbox.Selection> selection, long[] clientUids,
                            ScheduledExecutorService loop, String sessionId, int n, CompletableFuture<Moved> result) {
        if (result.isDone()) {
            return;
        }
        if (n > 1) {
            LOG.info("{} IMAP recovery: attempt {} of {}", sessionId, n, settings.recoveryAttempts());
        }
        fresh(selection).whenComplete((fresh, error) -> {
            if (error == null) {
                String changes = selection.isEmpty() ? "" : reconcile(clientUids, fresh.uids());
                Moved moved = new Moved(fresh.lease(), fresh.imap(), changes, fresh.uids(), null, null);
                if (!result.complete(moved)) {
                    moved.abandon();
                }
                return;
            }
            Throwable cause = cause(error);
            if (cause instanceof UidValidityChanged || n >= settings.recoveryAttempts()) {
                result.completeExceptionally(cause);
                return;
            }
            long wait = settings.recoveryBackoff().toNanos() << Math.min(n - 1, 20);
            loop.schedule(() -> tryRecover(selection, clientUids, loop, sessionId, n + 1, result), wait,
                    TimeUnit.NANOSECONDS);
        });
    }

    /** What made a step fail: {@code error} itself, or what it wraps when it is a {@link CompletionException}. */
    static Throwable cause(Throwable error) {
        return error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    }

    /** Counts a session the upstream ended: {@code mailproxy_imap_recoveries_total{outcome}}. */
    void countRecovery(String outcome) {
        if (meters != null) {
            Counter.builder("mailproxy.imap.recoveries").description("IMAP sessions the upstream ended, by outcome")
                    .tag("outcome", outcome).register(meters).increment();
        }
    }

    private CompletableFuture<OldView> oldView(Channel old, boolean selected, Runnable detachRelay,
                                               Consumer<ByteBuf> untagged) {
        CompletableFuture<ImapClient> attached = new CompletableFuture<>();
        old.eventLoop().execute(() -> {
            detachRelay.run();
            attached.complete(attach(old));
        });
        if (!selected) {
            return attached.thenApply(imap -> new OldView(imap, null));
        }
        return attached.thenCompose(imap -> {
            UidList listener = new UidList(untagged);
            return imap.execute("UID SEARCH ALL", listener).thenApply(done -> new OldView(imap, listener.uids));
        });
    }

    /** Keeps the UIDs of a {@code UID SEARCH ALL}; passes every other untagged response on. */
    private static final class UidList implements ImapResponseListener {
        private final Consumer<ByteBuf> others;
        private long[] uids;

        UidList(Consumer<ByteBuf> others) {
            this.others = others;
        }

        @Override
        public void untagged(ImapResponseLine line) {
            if (line.isFirst() && line.endsResponse() && ImapMailboxData.isSearch(line.text())) {
                uids = ImapMailboxData.searchResult(line.text());
            } else {
                others.accept(line.content().retain());
            }
        }

        @Override
        public void literal(ImapLiteralChunk chunk) {
            others.accept(chunk.content().retain());
        }
    }

    private CompletableFuture<Fresh> fresh(Optional<SelectedMailbox.Selection> selection) {
        return pools.acquire(account, Protocol.IMAP).thenCompose(lease -> {
            CompletableFuture<ImapClient> attached = new CompletableFuture<>();
            Channel ch = lease.session().channel();
            ch.eventLoop().execute(() -> attached.complete(attach(ch)));
            return attached.thenCompose(imap -> selectAndSearch(imap, selection)
                    .thenApply(uids -> new Fresh(lease, imap, uids))
                    .whenComplete((fresh, error) -> {
                        if (error != null) {
                            discard(lease, imap);
                        }
                    }));
        });
    }

    /** Selects the mailbox as the client had it, checks its UIDVALIDITY, and reads its UIDs. */
    private static CompletableFuture<long[]> selectAndSearch(ImapClient imap,
                                                             Optional<SelectedMailbox.Selection> selection) {
        if (selection.isEmpty()) {
            return CompletableFuture.completedFuture(new long[0]);
        }
        SelectedMailbox.Selection s = selection.get();
        return imap.execute(s.selectCommand()).thenCompose(selected -> {
            if (!selected.isOk()) {
                throw new CompletionException(new IllegalStateException("the new connection could not select the "
                        + "mailbox: " + selected.status() + " " + selected.text()));
            }
            OptionalLong found = ImapMailboxData.uidValidity(selected);
            Long validity = found.isPresent() ? found.getAsLong() : null;
            if (s.uidValidity() != null && !s.uidValidity().equals(validity)) {
                throw new CompletionException(new UidValidityChanged("UIDVALIDITY changed from "
                        + s.uidValidity() + " to " + validity));
            }
            return imap.execute("UID SEARCH ALL").thenApply(ImapMailboxData::searchResult);
        });
    }

    private ImapClient attach(Channel ch) {
        return ImapClient.attach(ch, TAG_PREFIX, settings.handoverLimit(), settings.handoverLimit());
    }

    private static void discard(Lease lease, ImapClient imap) {
        lease.session().channel().eventLoop().execute(() -> {
            imap.detach();
            lease.discard();
        });
    }

    /**
     * What a client that saw {@code oldUids} (in sequence order) must be told to see {@code newUids}: an EXPUNGE for
     * each message gone, highest sequence number first so that each number is still valid when it arrives, then
     * EXISTS when messages were added. Lines end in CRLF; empty when nothing changed.
     */
    static String reconcile(long[] oldUids, long[] newUids) {
        long[] before = oldUids.clone();
        long[] after = newUids.clone();
        Arrays.sort(before);
        Arrays.sort(after);
        int kept = 0;
        StringBuilder changes = new StringBuilder();
        for (int seq = before.length; seq >= 1; seq--) {
            if (Arrays.binarySearch(after, before[seq - 1]) < 0) {
                changes.append("* ").append(seq).append(" EXPUNGE\r\n");
            } else {
                kept++;
            }
        }
        if (after.length > kept) {
            changes.append("* ").append(after.length).append(" EXISTS\r\n");
        }
        return changes.toString();
    }
}
