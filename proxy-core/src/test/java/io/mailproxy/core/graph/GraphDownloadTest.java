package io.mailproxy.core.graph;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.testkit.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The download's safety nets: a stalled body and a body nobody reads give the mailbox's slot back. */
class GraphDownloadTest {

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T20:00:00Z"));
    private final ManualScheduler timers = new ManualScheduler(clock);
    private final AtomicInteger released = new AtomicInteger();
    private final Body body = new Body();

    private GraphDownload download() {
        return GraphDownload.start(body, released::incrementAndGet, Scheduler.of(timers), clock,
                Duration.ofSeconds(30), "Graph download for a@b.com");
    }

    @Test
    void aBodyThatStopsDeliveringFailsTheReaderAfterTheTimeoutAndReleasesOnce() {
        Reader reader = new Reader();
        download().subscribe(reader);
        reader.subscription.request(1);
        body.emit();
        assertThat(reader.items).isEqualTo(1);
        timers.advance(Duration.ofSeconds(25));
        reader.subscription.request(1); // asked again: Graph sends nothing more
        timers.advance(Duration.ofSeconds(29));
        assertThat(released).hasValue(0);
        timers.advance(Duration.ofSeconds(2));
        assertThat(released).hasValue(1);
        assertThat(body.cancelled).isTrue();
        assertThat(reader.error).isInstanceOf(GraphException.class);
        assertThat(((GraphException) reader.error).kind()).isEqualTo(GraphException.Kind.UNAVAILABLE);
        assertThat(reader.error.getMessage()).contains("no data for 30 s");
        body.complete(); // a late end changes nothing
        assertThat(released).hasValue(1);
        assertThat(reader.completed).isFalse();
    }

    @Test
    void aReaderThatTakesItsTimeBetweenRequestsIsNotAStall() {
        Reader reader = new Reader();
        download().subscribe(reader);
        reader.subscription.request(1);
        body.emit();
        timers.advance(Duration.ofMinutes(10)); // the POP3 client is slow: no demand, no timeout
        assertThat(released).hasValue(0);
        reader.subscription.request(1);
        body.emit();
        body.complete();
        assertThat(reader.completed).isTrue();
        assertThat(released).hasValue(1);
        timers.advance(Duration.ofMinutes(1));
        assertThat(released).hasValue(1);
        assertThat(timers.errors()).isEmpty();
    }

    @Test
    void aReaderThatCancelsReleasesAtOnce() {
        Reader reader = new Reader();
        download().subscribe(reader);
        reader.subscription.cancel();
        assertThat(released).hasValue(1);
        assertThat(body.cancelled).isTrue();
        reader.subscription.cancel();
        assertThat(released).hasValue(1);
    }

    @Test
    void aBodyNobodySubscribesToIsCancelledAndALateReaderGetsAnError() {
        GraphDownload d = download();
        timers.advance(Duration.ofSeconds(31));
        assertThat(released).hasValue(1);
        assertThat(body.cancelled).isTrue();
        Reader late = new Reader();
        d.subscribe(late);
        assertThat(late.error).isInstanceOf(GraphException.class);
        assertThat(released).hasValue(1);
    }

    /** A body publisher driven by the test. */
    private static final class Body implements Flow.Publisher<List<ByteBuffer>> {
        Flow.Subscriber<? super List<ByteBuffer>> subscriber;
        long requested;
        boolean cancelled;

        @Override
        public void subscribe(Flow.Subscriber<? super List<ByteBuffer>> s) {
            subscriber = s;
            s.onSubscribe(new Flow.Subscription() {
                @Override
                public void request(long n) {
                    requested += n;
                }

                @Override
                public void cancel() {
                    cancelled = true;
                }
            });
        }

        void emit() {
            assertThat(requested).isPositive();
            requested--;
            subscriber.onNext(List.of(ByteBuffer.wrap(new byte[] {'x'})));
        }

        void complete() {
            subscriber.onComplete();
        }
    }

    private static final class Reader implements Flow.Subscriber<List<ByteBuffer>> {
        Flow.Subscription subscription;
        int items;
        Throwable error;
        boolean completed;

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
        }

        @Override
        public void onNext(List<ByteBuffer> item) {
            items++;
        }

        @Override
        public void onError(Throwable t) {
            error = t;
        }

        @Override
        public void onComplete() {
            completed = true;
        }
    }
}
