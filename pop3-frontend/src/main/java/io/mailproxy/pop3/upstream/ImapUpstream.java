package io.mailproxy.pop3.upstream;

import io.mailproxy.core.imap.ImapMailboxData;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.imap.ImapClient;
import io.mailproxy.core.imap.ImapCompletion;
import io.mailproxy.core.imap.ImapResponseDecoder;
import io.mailproxy.core.imap.ImapResponseLine;
import io.mailproxy.core.imap.ImapResponseListener;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.pop3.Pop3Settings;
import io.mailproxy.pop3.codec.Pop3Response;
import io.micrometer.core.instrument.Counter;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leased IMAP connection behind a POP3-over-IMAP session, and how the session ends: one command at a time with a
 * time limit; notice of an upstream that ends between commands (Office 365 ends a session when its token expires, on
 * a mailbox move, or resets it); the move to a fresh lease at the next command that needs the upstream, when it ended
 * (a recovery: up to {@code recovery-attempts} tries with a doubling {@code recovery-backoff}, a fresh token when the
 * BYE named the token) or its token expires within a minute (a hand-over), provided the re-SELECT shows the same
 * UIDVALIDITY; the lease released once, to the pool when clean; and a failure answered {@code -ERR [SYS/TEMP]} (or a
 * close, when a body is half sent).
 *
 * <p>Threads: state lives on the client's event loop. {@link ImapClient} futures complete on the upstream channel's
 * loop; completions hop back to the client's loop, always as a new task.
 */
final class ImapUpstream {
    /** The POP3-over-IMAP session's one logger, whichever part of it speaks. */
    private static final Logger log = LoggerFactory.getLogger(ImapMaildrop.class);
    /** Hand over before a command when the token has less than this left. */
    private static final Duration HAND_OVER_MARGIN = Duration.ofMinutes(1);

    private final CoreServices services;
    private final AccountConfig accountConfig;
    private final Channel client;
    private final EventLoop clientLoop;
    private final Duration timeout;
    private final int recoveryAttempts;
    private final Duration recoveryBackoff;
    private final String sessionId;
    private final String account;
    /** SELECT or EXAMINE of the folder, sent again at a hand-over. */
    private final String select;

    /** Replaced by a hand-over; only touched on the client loop (listeners capture their own). */
    private Lease lease;
    private ImapClient imap;
    /** The folder's UIDVALIDITY at login: a hand-over to a folder with another one fails. */
    private long uidValidity;

    private boolean ended;
    private boolean released;
    /** The upstream connection ended between commands: the next command that needs it recovers first. */
    private boolean lost;
    private boolean inFlight;
    /** True once part of a multi-line body went to the client for the current command. */
    private volatile boolean inBody;

    /** @param select SELECT or EXAMINE of the folder, as the login's and each hand-over's */
    ImapUpstream(CoreServices services, LocalLogin.Accepted login, Lease lease, Channel client, Pop3Settings settings,
            String sessionId, String select) {
        this.services = services;
        this.accountConfig = login.account();
        this.account = accountConfig.name();
        this.client = client;
        this.clientLoop = client.eventLoop();
        this.timeout = settings.upstreamTimeout();
        this.recoveryAttempts = settings.recoveryAttempts();
        this.recoveryBackoff = settings.recoveryBackoff();
        this.sessionId = sessionId;
        this.select = select;
        this.lease = lease;
        this.imap = attach(lease);
        watch(imap);
    }

    private static ImapClient attach(Lease lease) {
        return ImapClient.attach(lease.session().channel(), "pop",
                ImapResponseDecoder.DEFAULT_MAX_LINE_LENGTH, ImapClient.DEFAULT_MAX_COLLECTED);
    }

    /** The current connection's client (replaced by a hand-over). */
    ImapClient imap() {
        return imap;
    }

    /** Records the folder's UIDVALIDITY once the login's SELECT read it. */
    void selected(long uidValidity) {
        this.uidValidity = uidValidity;
    }

    /** True once the session ended: QUIT done, abandoned, or failed. */
    boolean ended() {
        return ended;
    }

    void end() {
        ended = true;
    }

    /** A new command starts: nothing of its body went out yet. */
    void commandStarts() {
        inBody = false;
    }

    /** Part of a multi-line body went to the client (any thread). */
    void bodyStarted() {
        inBody = true;
    }

    /**
     * Keeps one read pending between commands, so a BYE and the close that follows are seen when they happen, not
     * when the next command fails (ImapClient reads only while a command runs; AUTO_READ stays off).
     */
    void listenWhileIdle() {
        imap.channel().read();
    }

    /** Notices an upstream that ends between commands (Office 365 ends a session when its token expires). */
    private void watch(ImapClient watched) {
        // between commands: read on after each unsolicited response (EXISTS, BYE...) until the close is seen
        watched.onUnsolicited(new ImapResponseListener() {
            @Override
            public void untagged(ImapResponseLine line) {
                if (line.endsResponse()) {
                    watched.channel().read();
                }
            }
        });
        watched.channel().closeFuture().addListener(f -> clientLoop.execute(() -> {
            if (watched != imap || ended || inFlight || lost) {
                return; // replaced, finished, or a running command reports it
            }
            upstreamEnded();
        }));
    }

    /**
     * The upstream ended the session between commands: its lease goes now (with its token, when the BYE named the
     * token), and the next command that needs the upstream recovers on a fresh one. Client loop only.
     */
    private void upstreamEnded() {
        lost = true;
        String bye = imap.byeText();
        // Office 365: "* BYE Session invalidated - AccessTokenExpired" names the token (research-o365 section 2)
        boolean token = bye != null && (bye.contains("Session invalidated") || bye.contains("AccessToken"));
        if (token) {
            lease.tokenRejected();
        }
        log.info("{} POP3-over-IMAP upstream of account {} ended the session between commands ({}); recovering on a "
                + "fresh connection{} at the next command that needs it", sessionId, account,
                bye == null ? "closed without BYE" : "upstream said " + bye, token ? " with a fresh token" : "");
        release(true);
    }

    /**
     * Runs {@code action} on a usable upstream. At a command boundary, an upstream that ended (a recovery) or whose
     * token expires within a minute (a hand-over) is replaced by a fresh lease that selects the same folder; the
     * listing stays the client's, so only UIDVALIDITY must be unchanged. Event loop (client) only.
     */
    void withUpstream(Runnable action) {
        if (!lost && !inFlight && !imap.channel().isActive()) {
            upstreamEnded(); // it ended just now: the close was not seen yet
        }
        Optional<Instant> expires = lease.session().tokenExpiresAt();
        boolean expiring = !lost && expires.isPresent()
                && services.clock().instant().plus(HAND_OVER_MARGIN).isAfter(expires.get());
        if (!lost && !expiring) {
            action.run();
            return;
        }
        if (expiring) {
            log.info("{} POP3-over-IMAP token of account {} expires at {}: handing over to a fresh connection",
                    sessionId, account, expires.get());
            release(false);
        } else if (recoveryAttempts == 0) {
            countRecovery("not_safe");
            fatal("the upstream ended the session and recovery is off (pop3.recovery-attempts = 0)", null);
            return;
        }
        inFlight = true;
        moveTo(1, lost, action);
    }

    /** Try {@code n} to move to a fresh lease; {@code recovering}: the upstream ended the session (else a hand-over). */
    private void moveTo(int n, boolean recovering, Runnable action) {
        if (ended) {
            inFlight = false;
            return;
        }
        int attempts = Math.max(1, recoveryAttempts);
        if (n > 1) {
            log.info("{} POP3-over-IMAP recovery of account {}: attempt {} of {}", sessionId, account, n, attempts);
        }
        fresh().whenComplete((pair, e) -> clientLoop.execute(() -> {
            if (ended) {
                inFlight = false;
                if (pair != null) {
                    pair.getKey().discard();
                }
                return;
            }
            if (e != null) {
                Throwable cause = unwrap(e);
                boolean changed = cause instanceof UidValidityChanged;
                if (changed || n >= attempts) {
                    inFlight = false;
                    if (recovering) {
                        countRecovery(changed ? "uidvalidity_changed" : "failed");
                    }
                    fatal((recovering ? "recovery" : "hand-over") + " failed after " + n + " of " + attempts
                            + " attempts: " + (changed ? cause.getMessage() : cause.toString()), cause);
                    return;
                }
                long wait = recoveryBackoff.toNanos() << Math.min(n - 1, 20);
                log.info("{} POP3-over-IMAP {} of account {}: attempt {} failed ({}); next in {} ms", sessionId,
                        recovering ? "recovery" : "hand-over", account, n, cause, TimeUnit.NANOSECONDS.toMillis(wait));
                clientLoop.schedule(() -> moveTo(n + 1, recovering, action), wait, TimeUnit.NANOSECONDS);
                return;
            }
            inFlight = false;
            lease = pair.getKey();
            imap = pair.getValue();
            released = false;
            lost = false;
            watch(imap);
            listenWhileIdle();
            if (recovering) {
                countRecovery("recovered");
                log.info("{} POP3-over-IMAP session of account {} recovered on a fresh connection (attempt {}); the "
                        + "client's listing is unchanged", sessionId, account, n);
            } else {
                log.info("{} POP3-over-IMAP session of account {} handed over to a fresh connection", sessionId, account);
            }
            action.run();
        }));
    }

    /**
     * A fresh lease with the folder selected again and the same UIDVALIDITY, within {@code upstream-timeout}. Any
     * failure discards the lease; one that arrives after the time limit is discarded too.
     */
    private CompletableFuture<Map.Entry<Lease, ImapClient>> fresh() {
        CompletableFuture<Map.Entry<Lease, ImapClient>> result = new CompletableFuture<>();
        ScheduledFuture<?> timer = clientLoop.schedule(() -> result.completeExceptionally(new UpstreamException(
                UpstreamException.Kind.TIMED_OUT, "no fresh connection with the folder selected within " + timeout)),
                timeout.toMillis(), TimeUnit.MILLISECONDS);
        CompletableFuture<Lease> acquired;
        try {
            acquired = services.pools().acquire(accountConfig, Protocol.IMAP);
        } catch (RuntimeException e) {
            acquired = CompletableFuture.failedFuture(e);
        }
        acquired.thenCompose(next -> {
            ImapClient attached;
            try {
                attached = attach(next);
            } catch (RuntimeException e) {
                next.discard();
                throw e;
            }
            return attached.execute(select).handle((c, e) -> {
                long validity = c == null || !c.isOk() ? -1 : ImapMailboxData.uidValidity(c).orElse(-1);
                if (validity != uidValidity) {
                    next.discard();
                    throw new CompletionException(e != null ? unwrap(e) : c.isOk()
                            ? new UidValidityChanged("UIDVALIDITY changed from " + uidValidity + " to " + validity)
                            : new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR,
                                    select + " answered " + c.status() + " " + c.text()));
                }
                return Map.entry(next, attached);
            });
        }).whenComplete((pair, e) -> {
            timer.cancel(false);
            if (e != null) {
                result.completeExceptionally(e);
            } else if (!result.complete(pair)) {
                pair.getKey().discard(); // too late
            }
        });
        return result;
    }

    /** The folder the session lists is no longer the same folder: no attempt can bring it back. */
    private static final class UidValidityChanged extends Exception {
        UidValidityChanged(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Counts a session the upstream ended: {@code mailproxy_pop3_recoveries_total{outcome}} ({@code recovered},
     * {@code not_safe}, {@code uidvalidity_changed}, {@code failed}).
     */
    private void countRecovery(String outcome) {
        if (services.meters() != null) {
            Counter.builder("mailproxy.pop3.recoveries")
                    .description("POP3-over-IMAP sessions the upstream ended, by outcome")
                    .tag("outcome", outcome).register(services.meters()).increment();
        }
    }

    /** Runs an upstream command with a time limit; {@code then} runs on the client loop with an OK/NO/BAD completion. */
    void command(String command, ImapResponseListener listener, Consumer<ImapCompletion> then) {
        ScheduledFuture<?> timer = clientLoop.schedule(
                () -> fatal("no reply to \"" + command + "\" within " + timeout, null),
                timeout.toMillis(), TimeUnit.MILLISECONDS);
        inFlight = true;
        CompletableFuture<ImapCompletion> f = listener == null ? imap.execute(command) : imap.execute(command, listener);
        // always a new task (see ImapMaildrop.load()): the next command must not be issued inside this completion
        f.whenComplete((c, e) -> clientLoop.execute(() -> {
            timer.cancel(false);
            inFlight = false;
            if (ended) {
                return;
            }
            listenWhileIdle();
            if (e != null) {
                Throwable cause = unwrap(e);
                if (!imap.channel().isActive()) {
                    // part of the reply may have gone out to the client: not safe to run it again elsewhere
                    countRecovery("not_safe");
                    log.warn("{} POP3-over-IMAP upstream of account {} ended the session during \"{}\"; cannot recover "
                            + "(a command was in flight)", sessionId, account, command.split(" ", 3)[0]);
                }
                fatal(cause.toString(), cause);
                return;
            }
            then.accept(c);
        }));
    }

    /** Releases the lease once: back to the pool when clean and idle, closed otherwise. */
    void release(boolean dirty) {
        if (released) {
            return;
        }
        released = true;
        ImapClient ending = imap;
        Lease leased = lease;
        Channel channel = ending.channel();
        channel.eventLoop().execute(() -> {
            boolean clean = !dirty && channel.isActive() && ending.isIdle();
            if (clean) {
                ending.detach();
                channel.config().setAutoRead(false);
                leased.release(false);
            } else {
                leased.discard();
            }
        });
    }

    /** The upstream is gone or unusable: -ERR [SYS/TEMP] and close (only close if a body is half sent). */
    void fatal(String why, Throwable cause) {
        if (ended) {
            return;
        }
        ended = true;
        String bye = imap.byeText();
        log.warn("{} POP3-over-IMAP upstream of account {} failed: {}{}; closing the session", sessionId, account, why,
                bye == null || why.contains(bye) || why.contains("hand-over") || why.contains("recover")
                        ? "" : " (upstream said: " + bye + ")");
        release(true);
        if (inBody) {
            client.close();
        } else {
            client.writeAndFlush(Pop3Response.err("[SYS/TEMP] Lost the connection to the mail server, try again later"))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
