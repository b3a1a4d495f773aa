package io.mailproxy.core.pool;

import io.mailproxy.core.upstream.UpstreamSession;
import java.time.Duration;

/**
 * Exclusive use of one pooled, authenticated upstream channel. Exactly one of {@link #release} or {@link #discard}
 * ends it; both are idempotent and may be called from any thread.
 */
public interface Lease {

    UpstreamSession session();

    /**
     * Gives the channel back after the last tagged completion / final reply. The caller must first remove the
     * handlers it added (leaving {@code "tls"} alone) and set AUTO_READ off. The pool resets it (UNSELECT, or
     * SELECT of a mailbox that cannot exist; RSET) before reuse, and closes it if the reset fails.
     *
     * @param dirty true when the session did something the pool cannot undo (ENABLE, UNAUTHENTICATE, NOTIFY, a
     *              command still in flight): the channel is closed instead
     */
    void release(boolean dirty);

    /**
     * Gives the channel back when the session sent nothing upstream (a client that logged in and out): there is
     * nothing to reset, so the channel is idle again at once, without a reset round trip (reset only what the
     * session dirtied). Same preconditions as {@link #release}.
     */
    default void releaseUnused() {
        release(false);
    }

    /** Closes the channel (client vanished mid-command, aborted DATA, unknown state). */
    default void discard() {
        release(true);
    }

    /**
     * Tells the pool that the upstream throttled this account during the lease (SMTP {@code 432 4.3.2},
     * {@code 550 5.2.251}-{@code 255}): the account's pool stops opening connections for a while. Does not end the
     * lease.
     */
    default void reportThrottled() {
    }

    /**
     * The same, when the upstream said how long to wait (IMAP {@code Request is throttled. Suggested Backoff Time: N
     * milliseconds}): the account's pool opens no new connection for at least {@code backoff} (up to its longest
     * back-off).
     */
    default void reportThrottled(Duration backoff) {
        reportThrottled();
    }

    /**
     * Tells the pool that the upstream ended the session because it no longer takes this lease's token (Office 365:
     * {@code * BYE Session invalidated - AccessTokenExpired}, possibly before the expiry computed from
     * {@code expires_in}): the cached token is dropped, so the next login fetches a new one, and idle connections
     * logged in with the same token are closed. Does not end the lease.
     */
    default void tokenRejected() {
    }
}
