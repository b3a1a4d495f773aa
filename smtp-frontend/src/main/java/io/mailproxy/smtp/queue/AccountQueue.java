package io.mailproxy.smtp.queue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;
import java.util.function.ToIntFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One account's queue: its messages in order, its pacing (a messages-a-minute and a recipients-a-day token bucket),
 * its hold (quota deferral, throttling pause, upstream back-off) and its attempts in flight. Not thread-safe: the
 * worker's monitor guards it.
 */
final class AccountQueue {

    /** The worker's log lines, under the worker's name as before. */
    private static final Logger log = LoggerFactory.getLogger(DeliveryWorker.class);

    final String name;
    final TreeSet<QueueEntry> due = new TreeSet<>(QueueEntry.ORDER);
    private final TokenBucket minute;
    private final TokenBucket day;
    int inFlight;
    Instant heldUntil;
    String heldWhy;
    int connectionFailures;

    AccountQueue(String name, QueueSettings settings, Clock clock) {
        this.name = name;
        this.minute = new TokenBucket(settings.messagesPerMinute(), Duration.ofMinutes(1), clock);
        this.day = new TokenBucket(settings.recipientsPerDay(), Duration.ofDays(1), clock);
    }

    /** Holds the account until {@code until}, unless it is already held longer. */
    void hold(Instant until, String why) {
        if (heldUntil == null || until.isAfter(heldUntil)) {
            heldUntil = until;
            heldWhy = why;
        }
    }

    /** Holds the account after an attempt's result and says so in the log. */
    void hold(AttemptResult.Hold kind, Instant until, String why, String reply) {
        hold(until, why);
        switch (kind) {
            case QUOTA -> log.warn("queue: account {} reached the upstream's submission quota; its queue is deferred until {}",
                    name, heldUntil);
            case THROTTLED -> log.warn("queue: account {} is throttled upstream ({}); its queue pauses until {}", name,
                    reply, heldUntil);
            case CONNECTION -> log.warn("queue: account {} cannot reach its upstream ({}); next try at {}", name, reply,
                    heldUntil);
            case CONFIGURATION -> log.warn("queue: Microsoft Graph refused account {} access ({}); fix its permissions"
                    + " (docs/OFFICE365.md); its queue waits until {}, nothing is bounced for it", name, reply, heldUntil);
            case RETRY_AFTER -> log.info("queue: Microsoft Graph asked account {} to wait ({}); its queue waits until {}",
                    name, reply, heldUntil);
            case NONE -> { }
        }
    }

    /** The administrator's retry: the hold ends now and the connection back-off starts over. */
    void lift() {
        heldUntil = null;
        heldWhy = null;
        connectionFailures = 0;
    }

    /** Why the account waits at {@code now}, for the status; empty when it does not. */
    Optional<String> held(Instant now) {
        return heldUntil != null && now.isBefore(heldUntil)
                ? Optional.of("until " + heldUntil + ": " + heldWhy) : Optional.empty();
    }

    void claim(QueueEntry e) {
        e.inFlight = true;
        inFlight++;
    }

    /** The attempt on {@code e} is over; false if it was not in flight. */
    boolean release(QueueEntry e) {
        if (!e.inFlight) {
            return false;
        }
        inFlight--;
        e.inFlight = false;
        return true;
    }

    /**
     * Claims into {@code starts} the messages that are due and that the account's hold, connections and pacing allow,
     * due first; pacing tokens are taken for each.
     *
     * @param connectionLimit most attempts at once, by account name
     * @return when the account may have more to start, or null when nothing here waits on time
     */
    Instant plan(Instant now, ToIntFunction<String> connectionLimit, List<QueueEntry> starts) {
        if (heldUntil != null) {
            if (now.isBefore(heldUntil)) {
                return heldUntil;
            }
            log.info("queue: account {} resumes ({} ended)", name, heldWhy);
            heldUntil = null;
            heldWhy = null;
        }
        int limit = connectionLimit.applyAsInt(name);
        for (QueueEntry e : due) {
            if (inFlight >= limit) {
                break;
            }
            if (e.inFlight) {
                continue;
            }
            if (e.state.nextAttempt().isAfter(now)) {
                return e.state.nextAttempt();
            }
            int rcpts = e.pending().size();
            if (rcpts == 0) {
                // nothing to send, only its removal to try again: no pacing applies
                claim(e);
                starts.add(e);
                continue;
            }
            Duration waitDay = day.timeUntil(rcpts);
            Duration waitMinute = minute.timeUntil(1);
            if (!waitDay.isZero() || !waitMinute.isZero()) {
                return now.plus(waitDay.compareTo(waitMinute) > 0 ? waitDay : waitMinute);
            }
            minute.tryTake(1);
            day.tryTake(rcpts);
            claim(e);
            starts.add(e);
        }
        return null;
    }
}
