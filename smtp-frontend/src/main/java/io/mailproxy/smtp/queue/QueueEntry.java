package io.mailproxy.smtp.queue;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** One queued message as the worker tracks it. Not thread-safe: the worker's monitor guards it. */
final class QueueEntry {

    /** An account's queue order: due first, then received first, then by id. */
    static final Comparator<QueueEntry> ORDER = Comparator.comparing((QueueEntry e) -> e.state.nextAttempt())
            .thenComparing(e -> e.env.received()).thenComparing(e -> e.env.id());

    final Envelope env;
    DeliveryState state;
    boolean inFlight;
    /** Consecutive failures to write its state or to remove it once finished (disk full...), for the back-off. */
    int diskFailures;

    QueueEntry(Envelope env, DeliveryState state) {
        this.env = env;
        this.state = state;
    }

    List<String> pending() {
        return pending(env, state.delivered(), state.failed());
    }

    /** The recipients of {@code env} neither delivered nor failed, in envelope order. */
    static List<String> pending(Envelope env, Set<String> delivered, Map<String, String> failed) {
        List<String> p = new ArrayList<>();
        for (String r : env.recipients()) {
            if (!delivered.contains(r) && !failed.containsKey(r)) {
                p.add(r);
            }
        }
        return p;
    }

    /** A message as {@code queue list} shows it. */
    static SmtpQueue.QueuedMessage describe(Envelope env, DeliveryState s) {
        List<String> pending = List.copyOf(pending(env, s.delivered(), s.failed()));
        return new SmtpQueue.QueuedMessage(env.id(), env.account(), env.clientFrom(), pending, env.received(),
                env.size(), s.attempts(), s.nextAttempt(), s.lastReply());
    }
}
