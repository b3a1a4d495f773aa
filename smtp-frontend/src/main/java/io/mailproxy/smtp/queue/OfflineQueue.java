package io.mailproxy.smtp.queue;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** {@code queue list/retry/delete} straight on the spool while no daemon runs. */
final class OfflineQueue implements SmtpQueue {

    private final Spool spool;
    private final Clock clock;
    private final List<Spool.Stored> messages;

    /** @param spool null when there is no spool directory (an empty queue) */
    OfflineQueue(Spool spool, Clock clock) {
        this.spool = spool;
        this.clock = clock;
        this.messages = new ArrayList<>(spool == null ? List.of() : spool.recovered());
    }

    @Override
    public QueueStatus status() {
        Optional<Duration> oldest = messages.stream().map(m -> m.envelope().received()).min(java.util.Comparator.naturalOrder())
                .map(r -> Duration.between(r, clock.instant()));
        return new QueueStatus(messages.size(), spool == null ? 0 : spool.usedBytes(), oldest, Map.of());
    }

    @Override
    public List<QueuedMessage> list() {
        return messages.stream().map(m -> QueueEntry.describe(m.envelope(), m.state())).toList();
    }

    @Override
    public int retry(String idOrAll) throws IOException {
        int n = 0;
        for (int i = 0; i < messages.size(); i++) {
            Spool.Stored m = messages.get(i);
            if (idOrAll.equals("all") || m.envelope().id().equals(idOrAll)) {
                DeliveryState due = m.state().withNext(clock.instant());
                spool.writeState(m.envelope().id(), due);
                messages.set(i, new Spool.Stored(m.envelope(), due));
                n++;
            }
        }
        if (n == 0 && !idOrAll.equals("all")) {
            throw new IllegalArgumentException("no queued message " + idOrAll);
        }
        return n;
    }

    @Override
    public void delete(String id) throws IOException {
        Spool.Stored m = messages.stream().filter(s -> s.envelope().id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no queued message " + id));
        spool.retire(id);
        messages.remove(m);
    }
}
