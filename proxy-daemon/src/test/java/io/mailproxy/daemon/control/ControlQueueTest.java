package io.mailproxy.daemon.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.smtp.queue.SmtpQueue;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** QUEUE-LIST, QUEUE-RETRY and QUEUE-DELETE over the control socket, answered by the daemon's queue. */
class ControlQueueTest {

    @TempDir
    Path state;

    /** A queue that records what it was asked. */
    private static final class RecordingQueue implements SmtpQueue {
        final List<String> calls = new ArrayList<>();

        @Override
        public QueueStatus status() {
            return new QueueStatus(1, 10, Optional.of(Duration.ofSeconds(5)), Map.of());
        }

        @Override
        public List<QueuedMessage> list() {
            return List.of(new QueuedMessage("MWW1-0123456789", "box@example.test", "app@legacy.example",
                    List.of("boss@example.test"), Instant.parse("2026-11-25T12:00:00Z"), 123, 2,
                    Instant.parse("2026-11-25T12:05:00Z"), "451 4.4.1 later"));
        }

        @Override
        public int retry(String idOrAll) {
            calls.add("retry " + idOrAll);
            return 1;
        }

        @Override
        public void delete(String id) {
            calls.add("delete " + id);
            if (id.equals("BUSY")) {
                throw new IllegalStateException("message BUSY is being delivered right now; try again shortly");
            }
        }
    }

    @Test
    void queueVerbsReachTheDaemonsQueue() throws Exception {
        ControlServer server = ControlServer.start(state, null, List::of, List::of);
        try {
            ControlClient client = new ControlClient(state);
            assertThatThrownBy(client::queueList).hasMessageContaining("not available");
            RecordingQueue queue = new RecordingQueue();
            server.queue(queue);
            assertThat(client.queueList()).containsExactly("MWW1-0123456789 2026-11-25T12:00:00Z 123 octets, account"
                    + " box@example.test, from <app@legacy.example> to <boss@example.test>, attempts 2, next"
                    + " 2026-11-25T12:05:00Z, last: 451 4.4.1 later");
            assertThat(client.queueRetry("all")).containsExactly("1 message(s) made due now");
            assertThat(client.queueDelete("MWW1-0123456789")).containsExactly("deleted MWW1-0123456789");
            assertThatThrownBy(() -> client.queueDelete("BUSY")).isInstanceOf(ControlClient.ControlException.class)
                    .hasMessageContaining("being delivered");
            assertThat(queue.calls).containsExactly("retry all", "delete MWW1-0123456789", "delete BUSY");
        } finally {
            server.close();
        }
    }
}
