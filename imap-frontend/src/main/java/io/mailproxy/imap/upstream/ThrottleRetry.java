package io.mailproxy.imap.upstream;

import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.imap.ImapSettings;
import io.mailproxy.imap.upstream.CommandTracker.InFlight;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What follows when Office 365 throttles a command ({@link UpstreamThrottle} says which reply is one and which
 * commands may be repeated): the account's pool is told, and the command is sent again after the suggested wait when
 * that is safe: a command safe to repeat, kept, alone in flight, not sent again too often already, and a wait within
 * {@code throttle-retry-max-wait}. Otherwise the client gets {@code NO [UNAVAILABLE]} with the server's text. This
 * holds the command that waits, the reply it gets if the session ends first, and the timer; the relay owns the phase
 * ({@link RelayPhase#THROTTLE_WAIT} while a command waits) and sends the command again. Event loop (client) only.
 */
final class ThrottleRetry {

    private static final Logger LOG = LoggerFactory.getLogger(ThrottleRetry.class);

    private final ImapSettings settings;
    private final String sessionId;
    /** The command to send again, the reply it gets if it is not, the timer; null when none waits. */
    private InFlight waiting;
    private String reply;
    private ScheduledFuture<?> timer;

    ThrottleRetry(ImapSettings settings, String sessionId) {
        this.settings = settings;
        this.sessionId = sessionId;
    }

    /**
     * The upstream throttled command {@code f} ({@code t}, in a reply with {@code status}); {@code lease}'s pool is
     * told. True when the command waits to be sent again: {@code onDue} runs on {@code loop} after the suggested wait.
     * {@code alone}: the session relays with no other command in flight or held, and is not shutting down. False:
     * the caller answers the client {@link UpstreamThrottle#reply}.
     */
    boolean holdBack(InFlight f, UpstreamThrottle t, ImapStatus status, Lease lease, boolean alone, EventLoop loop,
                     Runnable onDue) {
        Duration wait = t.backoff();
        if (wait != null) {
            lease.reportThrottled(wait);
        } else {
            lease.reportThrottled();
        }
        boolean again = wait != null && f.resend() != null && UpstreamThrottle.safeAgain(f.name(), status)
                && f.retries() < settings.throttleRetries() && wait.compareTo(settings.throttleRetryMaxWait()) <= 0
                && alone;
        if (!again) {
            LOG.info("{} IMAP upstream throttled {} {} ({} {}): answered NO [UNAVAILABLE]", sessionId, f.tag(),
                    f.name(), status, t.text());
            return false;
        }
        LOG.info("{} IMAP upstream throttled {} {} ({} {}): sending it again in {}", sessionId, f.tag(), f.name(),
                status, t.text(), wait);
        waiting = f;
        reply = t.reply(f.tag());
        timer = loop.schedule(onDue, wait.toNanos(), TimeUnit.NANOSECONDS);
        return true;
    }

    /** The wait is over: the command to send now, counted as sent once more. */
    InFlight takeAgain() {
        InFlight again = waiting.again();
        waiting = null;
        reply = null;
        return again;
    }

    /** The session ends while a command waits: the timer stops; returns the reply the command gets first. */
    String cancel() {
        timer.cancel(false);
        return reply;
    }
}
