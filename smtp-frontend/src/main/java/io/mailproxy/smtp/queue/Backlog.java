package io.mailproxy.smtp.queue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToIntFunction;

/**
 * The queue in memory: every queued message by id, and each account's queue. Not thread-safe: the worker's monitor
 * guards it.
 */
final class Backlog {

    private final QueueSettings settings;
    private final Clock clock;
    private final Map<String, QueueEntry> entries = new HashMap<>();
    private final Map<String, AccountQueue> queues = new LinkedHashMap<>();

    Backlog(QueueSettings settings, Clock clock) {
        this.settings = settings;
        this.clock = clock;
    }

    AccountQueue queue(String account) {
        return queues.computeIfAbsent(account, name -> new AccountQueue(name, settings, clock));
    }

    /** Queues a message (in its account's queue, at its place by {@code state}'s next attempt). */
    QueueEntry add(Envelope env, DeliveryState state) {
        QueueEntry e = new QueueEntry(env, state);
        entries.put(env.id(), e);
        queue(env.account()).due.add(e);
        return e;
    }

    QueueEntry get(String id) {
        return entries.get(id);
    }

    boolean contains(String id) {
        return entries.containsKey(id);
    }

    void remove(QueueEntry e) {
        entries.remove(e.env.id());
        AccountQueue q = queues.get(e.env.account());
        if (q != null) {
            q.due.remove(e);
        }
    }

    /** Sets the message's state, moving it to its new place in its account's queue. */
    void reposition(QueueEntry e, DeliveryState state) {
        AccountQueue q = queue(e.env.account());
        boolean had = q.due.remove(e);
        e.state = state;
        if (had) {
            q.due.add(e);
        }
    }

    void claim(QueueEntry e) {
        queue(e.env.account()).claim(e);
    }

    /** The attempt on {@code e} is over; false if it was not in flight. */
    boolean release(QueueEntry e) {
        return queue(e.env.account()).release(e);
    }

    boolean anyInFlight() {
        return queues.values().stream().anyMatch(q -> q.inFlight > 0);
    }

    /**
     * Claims into {@code starts} every message that is due and allowed (see {@link AccountQueue#plan}).
     *
     * @return the soonest moment something may become startable, {@code latest} at the latest
     */
    Instant plan(Instant now, Instant latest, ToIntFunction<String> connectionLimit, List<QueueEntry> starts) {
        Instant wake = latest;
        for (AccountQueue q : queues.values()) {
            Instant at = q.plan(now, connectionLimit, starts);
            if (at != null && !wake.isBefore(at)) {
                wake = at;
            }
        }
        return wake;
    }

    /**
     * Makes the message {@code idOrAll} due now ({@code "all"}: every message, and every account's hold ends); a
     * message in flight is counted but left as it is.
     *
     * @return how many messages it named
     */
    int makeDue(String idOrAll, Instant now) {
        boolean all = idOrAll.equals("all");
        if (all) {
            queues.values().forEach(AccountQueue::lift);
        }
        int n = 0;
        for (QueueEntry e : new ArrayList<>(entries.values())) {
            if (all || e.env.id().equals(idOrAll)) {
                if (!e.inFlight) {
                    reposition(e, e.state.withNext(now));
                }
                n++;
            }
        }
        return n;
    }

    SmtpQueue.QueueStatus status(Instant now, long bytes) {
        Optional<Duration> oldest = entries.values().stream().map(e -> e.env.received())
                .min(Comparator.naturalOrder()).map(r -> Duration.between(r, now));
        Map<String, String> held = new LinkedHashMap<>();
        queues.values().forEach(q -> q.held(now).ifPresent(why -> held.put(q.name, why)));
        return new SmtpQueue.QueueStatus(entries.size(), bytes, oldest, held);
    }

    /** Every queued message, received first. */
    List<SmtpQueue.QueuedMessage> list() {
        return entries.values().stream().sorted(Comparator.comparing((QueueEntry e) -> e.env.received())
                .thenComparing(e -> e.env.id())).map(e -> QueueEntry.describe(e.env, e.state)).toList();
    }
}
