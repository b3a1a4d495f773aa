package io.mailproxy.core.admin;

import io.mailproxy.core.runtime.SessionInfo;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * The running daemon's state, as {@code /status} serves it in JSON ({@link Json#write}: instants in ISO-8601,
 * durations in whole seconds, empty optionals as {@code null}). Never holds a secret or a token.
 *
 * @param time     when this report was made
 * @param started  when the daemon started
 * @param version  the daemon's version
 * @param sessions the open client sessions (the daemon may cap the list; {@code sessionsOpen} is the real count)
 * @param pools    one entry per upstream pool (account × protocol)
 * @param accounts one entry per configured account: its credential state and token expiry
 * @param queue    the SMTP store-and-forward queue, when the SMTP frontend runs one
 */
public record StatusReport(
        Instant time,
        Instant started,
        String version,
        int sessionsOpen,
        int sessionsUnauthenticated,
        List<SessionInfo> sessions,
        List<Pool> pools,
        List<Account> accounts,
        Optional<Queue> queue) {

    public StatusReport {
        sessions = List.copyOf(sessions);
        pools = List.copyOf(pools);
        accounts = List.copyOf(accounts);
    }

    /** A report without a queue. */
    public StatusReport(Instant time, Instant started, String version, int sessionsOpen, int sessionsUnauthenticated,
                        List<SessionInfo> sessions, List<Pool> pools, List<Account> accounts) {
        this(time, started, version, sessionsOpen, sessionsUnauthenticated, sessions, pools, accounts,
                Optional.empty());
    }

    /**
     * The SMTP store-and-forward queue.
     *
     * @param depth        messages waiting
     * @param bytes        their size on disk
     * @param oldestAge    how long the oldest has waited
     * @param heldAccounts accounts whose delivery is paused (quota, throttling, upstream down), with the reason
     */
    public record Queue(int depth, long bytes, Optional<Duration> oldestAge, java.util.Map<String, String> heldAccounts) {
        public Queue {
            heldAccounts = java.util.Map.copyOf(heldAccounts);
        }
    }

    /**
     * One upstream pool.
     *
     * @param protocol         "imap", "pop3" or "smtp"
     * @param active           connections leased to sessions
     * @param idle             authenticated connections ready to lease
     * @param pending          connections being opened
     * @param waiting          sessions waiting for a connection
     * @param max              the pool's bound
     * @param minTokenLifeLeft the shortest token life left among the idle connections (OAuth 2.0 accounts)
     * @param throttledUntil   while the account backs off after a throttling reply
     */
    public record Pool(String account, String protocol, int active, int idle, int pending, int waiting, int max,
                       Optional<Duration> minTokenLifeLeft, Optional<Instant> throttledUntil) { }

    /**
     * One account's credentials.
     *
     * @param auth           "oauth2" or "password"
     * @param ok             the last login for this account got credentials and the last token refresh succeeded
     * @param error          what failed, with the command that fixes it
     * @param tokenExpiresAt the expiry of the newest access token (OAuth 2.0 accounts)
     */
    public record Account(String account, String auth, boolean ok, Optional<String> error,
                          Optional<Instant> lastSuccessAt, Optional<Instant> lastErrorAt,
                          Optional<Instant> tokenExpiresAt) { }
}
