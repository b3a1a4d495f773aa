package io.mailproxy.core.graph;

import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.graph.GraphException.Kind;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Flow;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The body of a streamed Graph answer ({@code $value}) as {@link GraphMail#download} hands it out: it holds the
 * mailbox's request slot ({@link MailboxGate}) and the HTTP response until the body ends, fails, or its reader
 * cancels, and then gives both back, once. Two safety nets, both after the upstream's {@code reply-timeout} (the JDK's
 * request timeout stops at the headers):
 * <ul>
 * <li>nobody subscribed (the reader went away between the answer and its subscription): the body is cancelled and the
 *     slot released; a late subscriber gets {@code UNAVAILABLE};</li>
 * <li>the reader asked for data and none came (a stalled Graph or network): the body is cancelled, the slot released,
 *     and the reader gets {@code UNAVAILABLE}. Time the reader takes between requests (a slow POP3 client, its own
 *     backpressure) does not count.</li>
 * </ul>
 * One subscriber only (as the JDK's {@code BodySubscribers.ofPublisher}).
 */
final class GraphDownload implements Flow.Publisher<List<ByteBuffer>> {

    private static final Logger LOG = LoggerFactory.getLogger(GraphDownload.class);

    private final Flow.Publisher<List<ByteBuffer>> body;
    private final Runnable release;
    private final Scheduler scheduler;
    private final Clock clock;
    private final Duration timeout;
    private final String what;

    private boolean subscribed;
    private boolean done;
    private Flow.Subscription upstream;
    private Flow.Subscriber<? super List<ByteBuffer>> reader;
    /** Items asked for and not yet delivered; the moment of the last item or of new demand. */
    private long demand;
    private Instant progress;
    private Future<?> timer;

    private GraphDownload(Flow.Publisher<List<ByteBuffer>> body, Runnable release, Scheduler scheduler, Clock clock,
                          Duration timeout, String what) {
        this.body = body;
        this.release = release;
        this.scheduler = scheduler;
        this.clock = clock;
        this.timeout = timeout;
        this.what = what;
    }

    /**
     * @param release gives the mailbox's slot back (called once)
     * @param what    "Graph download for MAILBOX", for messages
     */
    static GraphDownload start(Flow.Publisher<List<ByteBuffer>> body, Runnable release, Scheduler scheduler,
                               Clock clock, Duration timeout, String what) {
        GraphDownload d = new GraphDownload(body, release, scheduler, clock, timeout, what);
        synchronized (d) {
            d.progress = clock.instant();
            d.timer = scheduler.schedule(d::check, timeout);
        }
        return d;
    }

    @Override
    public void subscribe(Flow.Subscriber<? super List<ByteBuffer>> subscriber) {
        boolean late;
        synchronized (this) {
            late = subscribed || done;
            if (!late) {
                subscribed = true;
                reader = subscriber;
                progress = clock.instant();
            }
        }
        if (late) {
            subscriber.onSubscribe(new Flow.Subscription() {
                @Override
                public void request(long n) {
                }

                @Override
                public void cancel() {
                }
            });
            subscriber.onError(new GraphException(Kind.UNAVAILABLE, 0, "", what + ": the body was already read or"
                    + " given up (nobody read it within " + timeout.toSeconds() + " s, reply-timeout)",
                    Optional.empty(), null));
            return;
        }
        body.subscribe(new Inner());
    }

    /** The timer: gives up a body nobody subscribed to, or one that delivered nothing asked for within the timeout. */
    private void check() {
        boolean abandoned = false;
        boolean stalled = false;
        Flow.Subscription s;
        synchronized (this) {
            if (done) {
                return;
            }
            Instant now = clock.instant();
            if (!subscribed) {
                abandoned = true;
            } else if (demand > 0 && !now.isBefore(progress.plus(timeout))) {
                stalled = true;
            } else {
                Duration next = demand > 0 ? Duration.between(now, progress.plus(timeout)) : timeout;
                timer = scheduler.schedule(this::check, next);
                return;
            }
            s = upstream;
        }
        if (!finish()) {
            return;
        }
        if (abandoned) {
            LOG.info("{}: nobody read the body within {} s (reply-timeout); cancelled, the mailbox's request slot is"
                    + " free again", what, timeout.toSeconds());
            body.subscribe(new Flow.Subscriber<>() {
                @Override
                public void onSubscribe(Flow.Subscription subscription) {
                    subscription.cancel();
                }

                @Override
                public void onNext(List<ByteBuffer> item) {
                }

                @Override
                public void onError(Throwable throwable) {
                }

                @Override
                public void onComplete() {
                }
            });
            return;
        }
        if (stalled) {
            if (s != null) {
                s.cancel();
            }
            reader.onError(new GraphException(Kind.UNAVAILABLE, 0, "", what + ": no data for " + timeout.toSeconds()
                    + " s (reply-timeout); the download was cancelled", Optional.empty(), null));
        }
    }

    /** Ends the download once: the slot goes back and the timer stops. False when it had already ended. */
    private boolean finish() {
        Future<?> t;
        synchronized (this) {
            if (done) {
                return false;
            }
            done = true;
            t = timer;
        }
        if (t != null) {
            t.cancel(false);
        }
        release.run();
        return true;
    }

    private final class Inner implements Flow.Subscriber<List<ByteBuffer>> {
        @Override
        public void onSubscribe(Flow.Subscription s) {
            boolean gone;
            synchronized (GraphDownload.this) {
                upstream = s;
                gone = done;
            }
            if (gone) {
                s.cancel();
                return;
            }
            reader.onSubscribe(new Flow.Subscription() {
                @Override
                public void request(long n) {
                    synchronized (GraphDownload.this) {
                        if (done) {
                            return;
                        }
                        if (n > 0) {
                            if (demand == 0) {
                                progress = clock.instant();
                            }
                            demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
                        }
                    }
                    s.request(n);
                }

                @Override
                public void cancel() {
                    finish();
                    s.cancel();
                }
            });
        }

        @Override
        public void onNext(List<ByteBuffer> item) {
            synchronized (GraphDownload.this) {
                if (done) {
                    return;
                }
                if (demand != Long.MAX_VALUE) {
                    demand--;
                }
                progress = clock.instant();
            }
            reader.onNext(item);
        }

        @Override
        public void onError(Throwable t) {
            if (finish()) {
                reader.onError(t);
            }
        }

        @Override
        public void onComplete() {
            if (finish()) {
                reader.onComplete();
            }
        }
    }
}
