package io.mailproxy.smtp.queue;

import io.mailproxy.testkit.MutableClock;
import static io.mailproxy.smtp.queue.QueueTestSupport.ACCOUNT;
import static io.mailproxy.smtp.queue.QueueTestSupport.accept;
import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.smtp.queue.AttemptResult.Hold;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The worker's decisions, driven by a scripted attempt and a clock moved by hand (no sleeping, no network). */
class DeliveryWorkerTest {

    private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");
    private static final String BODY = "From: a@legacy.example\r\nSubject: s\r\n\r\nbody\r\n";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(T0);
    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    /** Each attempt: message id and the recipients it was for. */
    private final List<String> attempts = new CopyOnWriteArrayList<>();
    private volatile BiFunction<Envelope, List<String>, AttemptResult> script =
            (env, rcpts) -> new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");

    private Spool spool;
    private DeliveryWorker worker;

    private DeliveryWorker start(QueueSettings settings) throws Exception {
        spool = QueueTestSupport.open(dir, clock);
        Attempt attempt = (env, rcpts) -> {
            attempts.add(env.id() + " " + rcpts);
            return CompletableFuture.completedFuture(script.apply(env, rcpts));
        };
        // no scheduler: the test pumps after moving the clock; a direct executor makes every step synchronous
        worker = new DeliveryWorker(spool, settings, attempt, name -> Optional.of(QueueTestSupport.account(3)), clock,
                null, Runnable::run, meters, new Random(1), "mx.test", 64 * 1024);
        worker.start();
        return worker;
    }

    private static QueueSettings settings(int perMinute, int perDay, int connections, double jitter,
                                          Optional<String> admin, boolean toSender) {
        QueueSettings d = QueueSettings.defaults();
        return new QueueSettings(d.maxSize(), d.fsyncWindow(), perMinute, perDay, connections, d.initialBackoff(),
                d.maxBackoff(), jitter, d.maxAge(), d.quotaDeferral(), d.throttlePause(), admin, toSender, d.idlePoll());
    }

    private static QueueSettings plain() {
        return settings(30, 10_000, 1, 0, Optional.empty(), false);
    }

    private Envelope queue(String from, String... rcpts) throws Exception {
        return accept(spool, from, List.of(rcpts), BODY);
    }

    private double counter(String name) {
        return meters.counter(name).count();
    }

    private long filesInSpool() throws Exception {
        try (var s = Files.list(dir)) {
            return s.count();
        }
    }

    @Test
    void pacesThirtyMessagesAMinutePerAccount() throws Exception {
        start(plain());
        for (int i = 0; i < 40; i++) {
            queue("app@legacy.example", "boss@contoso.com");
        }
        assertThat(attempts).hasSize(30);
        assertThat(worker.status().depth()).isEqualTo(10);
        clock.advance(Duration.ofMillis(1999));
        worker.pump();
        assertThat(attempts).hasSize(30);
        clock.advance(Duration.ofMillis(1));
        worker.pump();
        assertThat(attempts).hasSize(31); // one token every 2 s
        clock.advance(Duration.ofSeconds(20));
        worker.pump();
        assertThat(attempts).hasSize(40);
        assertThat(worker.status().depth()).isZero();
        assertThat(filesInSpool()).isZero();
        assertThat(counter("mailproxy.smtp.queue.deliveries")).isEqualTo(40);
    }

    @Test
    void recipientsPerDayBucketHoldsMessagesBack() throws Exception {
        start(settings(30, 10, 1, 0, Optional.empty(), false));
        queue("app@legacy.example", "a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", "f@x.com"); // 6
        queue("app@legacy.example", "g@x.com", "h@x.com", "i@x.com", "j@x.com", "k@x.com");            // 5 > 4 left
        assertThat(attempts).hasSize(1);
        clock.advance(Duration.ofHours(2)); // 10/day: about 0.83 tokens back
        worker.pump();
        assertThat(attempts).hasSize(1);
        clock.advance(Duration.ofHours(1)); // 3 h: 1.25 tokens back, 5.25 in the bucket
        worker.pump();
        assertThat(attempts).hasSize(2);
    }

    @Test
    void quotaReplyDefersTheWholeAccountFor24Hours() throws Exception {
        start(plain());
        script = (env, rcpts) -> AttemptResult.held(Hold.QUOTA,
                "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException");
        Envelope first = queue("app@legacy.example", "boss@contoso.com");
        clock.advance(Duration.ofMillis(1));
        queue("app@legacy.example", "boss@contoso.com");
        assertThat(attempts).hasSize(1);
        assertThat(worker.status().heldAccounts()).containsKey(ACCOUNT);
        assertThat(worker.status().heldAccounts().get(ACCOUNT)).contains("quota");
        assertThat(counter("mailproxy.smtp.queue.deferrals")).isEqualTo(1);
        script = (env, rcpts) -> new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");
        clock.advance(Duration.ofHours(23).plusMinutes(59));
        worker.pump();
        assertThat(attempts).hasSize(1);
        clock.advance(Duration.ofMinutes(1));
        worker.pump();
        assertThat(attempts).hasSize(3);
        assertThat(attempts.get(1)).startsWith(first.id()); // the deferred one first
        assertThat(worker.status().depth()).isZero();
        assertThat(counter("mailproxy.smtp.queue.bounces")).isZero();
    }

    @Test
    void throttlingPausesTheAccountForTheThrottlePause() throws Exception {
        start(plain());
        script = (env, rcpts) -> AttemptResult.held(Hold.THROTTLED, "550 5.2.252 SendAsDenied; throttled");
        queue("app@legacy.example", "boss@contoso.com");
        queue("app@legacy.example", "boss@contoso.com");
        assertThat(attempts).hasSize(1);
        clock.advance(Duration.ofMinutes(59));
        worker.pump();
        assertThat(attempts).hasSize(1);
        script = (env, rcpts) -> new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");
        clock.advance(Duration.ofMinutes(1));
        worker.pump();
        assertThat(attempts).hasSize(3);
        assertThat(counter("mailproxy.smtp.queue.bounces")).isZero();
    }

    @Test
    void temporaryFailuresBackOffExponentiallyThenExpireIntoOneBounce() throws Exception {
        QueueSettings d = QueueSettings.defaults();
        start(new QueueSettings(d.maxSize(), d.fsyncWindow(), 30, 10_000, 1, Duration.ofMinutes(1),
                Duration.ofMinutes(8), 0, Duration.ofMinutes(30), d.quotaDeferral(), d.throttlePause(),
                Optional.of("postmaster@contoso.com"), false, d.idlePoll()));
        script = (env, rcpts) -> env.id().endsWith("-DSN")
                ? new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK")
                : AttemptResult.temporary("451 4.4.1 try later");
        Envelope msg = queue("app@legacy.example", "boss@contoso.com");
        List<Long> gaps = new ArrayList<>();
        Instant last = clock.instant();
        for (int minute = 1; minute <= 40; minute++) {
            int before = attempts.size();
            clock.advance(Duration.ofMinutes(1));
            worker.pump();
            if (attempts.size() > before) {
                gaps.add(Duration.between(last, clock.instant()).toMinutes());
                last = clock.instant();
            }
        }
        // 1, 2, 4, 8, 8 (capped) ... until 30 minutes after acceptance; then it is given up and bounced
        assertThat(gaps.subList(0, 5)).containsExactly(1L, 2L, 4L, 8L, 8L);
        assertThat(counter("mailproxy.smtp.queue.retries")).isGreaterThanOrEqualTo(4);
        assertThat(counter("mailproxy.smtp.queue.bounces")).isEqualTo(1);
        assertThat(attempts).anyMatch(a -> a.startsWith(msg.id() + "-DSN [postmaster@contoso.com]"));
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void jitterVariesTheDelayWithinItsFraction() {
        Backoff b = new Backoff(Duration.ofMinutes(1), Duration.ofHours(1), 0.2, new Random(7));
        for (int i = 0; i < 200; i++) {
            assertThat(b.delay(3).toMillis()).isBetween(192_000L, 288_000L);
        }
        assertThat(b.delay(30)).isLessThanOrEqualTo(Duration.ofMinutes(72));
    }

    @Test
    void partialFailureDeliversEachRecipientOnceAndBouncesOnlyTheRefusedOnes() throws Exception {
        start(settings(30, 10_000, 1, 0, Optional.of("postmaster@contoso.com"), true));
        script = (env, rcpts) -> {
            if (env.id().endsWith("-DSN")) {
                return new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");
            }
            if (rcpts.size() == 3) { // first attempt: a delivered, b refused for good, c later
                return new AttemptResult(Set.of("a@x.com"), Map.of("b@x.com", "550 5.1.10 RecipientNotFound"),
                        Hold.NONE, "451 4.7.500 Server busy");
            }
            return new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");
        };
        Envelope msg = queue("app@legacy.example", "a@x.com", "b@x.com", "c@x.com");
        assertThat(attempts).containsExactly(msg.id() + " [a@x.com, b@x.com, c@x.com]");
        assertThat(worker.list()).singleElement().satisfies(m -> {
            assertThat(m.pending()).containsExactly("c@x.com");
            assertThat(m.attempts()).isEqualTo(1);
        });
        clock.advance(Duration.ofMinutes(1));
        worker.pump();
        assertThat(attempts.get(1)).isEqualTo(msg.id() + " [c@x.com]");
        // one bounce, to the admin and the routable envelope sender, delivered itself
        assertThat(attempts.get(2)).isEqualTo(msg.id() + "-DSN [postmaster@contoso.com, app@legacy.example]");
        assertThat(counter("mailproxy.smtp.queue.bounces")).isEqualTo(1);
        assertThat(worker.status().depth()).isZero();
        assertThat(filesInSpool()).isZero();
    }

    @Test
    void aBounceNeverGetsABounce() throws Exception {
        start(settings(30, 10_000, 1, 0, Optional.of("postmaster@contoso.com"), true));
        script = (env, rcpts) -> new AttemptResult(Set.of(),
                Map.of(rcpts.get(0), "550 5.1.1 User unknown"), Hold.NONE, "550 5.1.1 User unknown");
        queue("", "gone@x.com");
        assertThat(attempts).hasSize(1);
        assertThat(counter("mailproxy.smtp.queue.bounces")).isZero();
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void permanentFailureWithoutBounceTargetIsOnlyLogged() throws Exception {
        start(plain());
        script = (env, rcpts) -> new AttemptResult(Set.of(), Map.of(rcpts.get(0), "550 5.7.60 no SendAs"),
                Hold.NONE, "550 5.7.60 no SendAs");
        queue("app@legacy.example", "boss@contoso.com");
        assertThat(attempts).hasSize(1);
        assertThat(counter("mailproxy.smtp.queue.bounces")).isZero();
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void upstreamDownBacksTheAccountOffAndKeepsTheMessages() throws Exception {
        start(plain());
        script = (env, rcpts) -> AttemptResult.held(Hold.CONNECTION, "UNREACHABLE: connect failed");
        queue("app@legacy.example", "boss@contoso.com");
        queue("app@legacy.example", "boss@contoso.com");
        assertThat(attempts).hasSize(1);
        assertThat(worker.status().heldAccounts().get(ACCOUNT)).contains("upstream unavailable");
        clock.advance(Duration.ofMinutes(1));
        worker.pump();
        assertThat(attempts).hasSize(2);
        clock.advance(Duration.ofMinutes(1)); // second failure: 2 minutes
        worker.pump();
        assertThat(attempts).hasSize(2);
        assertThat(worker.status().depth()).isEqualTo(2);
    }

    @Test
    void connectionsPerAccountBoundsConcurrentAttempts() throws Exception {
        CompletableFuture<AttemptResult> hang = new CompletableFuture<>();
        spool = QueueTestSupport.open(dir, clock);
        worker = new DeliveryWorker(spool, settings(30, 10_000, 2, 0, Optional.empty(), false), (env, rcpts) -> {
            attempts.add(env.id());
            return hang;
        }, name -> Optional.of(QueueTestSupport.account(3)), clock, null, Runnable::run, meters, new Random(1),
                "mx.test", 4096);
        worker.start();
        for (int i = 0; i < 5; i++) {
            queue("app@legacy.example", "boss@contoso.com");
        }
        assertThat(attempts).hasSize(2);
        hang.complete(new AttemptResult(Set.of("boss@contoso.com"), Map.of(), Hold.NONE, "250 OK"));
        worker.pump();
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void restartResumesAndNeverResendsToDeliveredRecipients() throws Exception {
        start(plain());
        script = (env, rcpts) -> new AttemptResult(Set.of("a@x.com"), Map.of(), Hold.NONE, "451 4.3.2 later");
        Envelope msg = queue("app@legacy.example", "a@x.com", "b@x.com");
        assertThat(attempts).containsExactly(msg.id() + " [a@x.com, b@x.com]");
        worker.close();

        // a new process: same spool directory
        attempts.clear();
        script = (env, rcpts) -> new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");
        clock.advance(Duration.ofMinutes(5));
        start(plain());
        assertThat(attempts).containsExactly(msg.id() + " [b@x.com]");
        assertThat(filesInSpool()).isZero();
    }

    @Test
    void retryAllAndDeleteFromTheAdministrator() throws Exception {
        start(plain());
        script = (env, rcpts) -> AttemptResult.temporary("451 4.4.1 later");
        Envelope a = queue("app@legacy.example", "boss@contoso.com");
        Envelope b = queue("app@legacy.example", "boss@contoso.com");
        assertThat(attempts).hasSize(2);
        assertThat(worker.retry(a.id())).isEqualTo(1);
        assertThat(attempts).hasSize(3);
        worker.delete(b.id());
        assertThat(worker.list()).extracting(SmtpQueue.QueuedMessage::id).containsExactly(a.id());
        assertThat(worker.retry("all")).isEqualTo(1);
        assertThat(attempts).hasSize(4);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> worker.delete("NOPE-0000000000"))
                .isInstanceOf(IllegalArgumentException.class);
    }

    // ---------------------------------------------------------------- disk and executor failures

    /** fsync that fails with ENOSPC while {@link #full} is set. */
    private static final class FillingDisk implements Spool.Durability {
        volatile boolean full;

        @Override
        public void force(java.nio.channels.FileChannel file) throws java.io.IOException {
            check();
        }

        @Override
        public void forceDirectory(Path d) throws java.io.IOException {
            check();
        }

        private void check() throws java.io.IOException {
            if (full) {
                throw new java.io.IOException("No space left on device");
            }
        }
    }

    /** The worker's blocking executor, run by hand; it refuses work while {@link #refuse} is set. */
    private static final class ManualExecutor implements java.util.concurrent.Executor {
        final java.util.Queue<Runnable> tasks = new java.util.concurrent.ConcurrentLinkedQueue<>();
        volatile boolean refuse;
        int refused;

        @Override
        public void execute(Runnable task) {
            if (refuse) {
                refused++;
                throw new java.util.concurrent.RejectedExecutionException("saturated");
            }
            tasks.add(task);
        }

        void runAll() {
            for (Runnable t; (t = tasks.poll()) != null; ) {
                t.run();
            }
        }
    }

    private final FillingDisk disk = new FillingDisk();
    private final ManualExecutor blocking = new ManualExecutor();

    /** Like {@link #start}, over {@link #disk} and {@link #blocking}; messages are accepted with the disk not full. */
    private DeliveryWorker startManual(QueueSettings settings) throws Exception {
        spool = Spool.open(dir, 1L << 30, disk, Runnable::run, clock, Duration.ZERO);
        Attempt attempt = (env, rcpts) -> {
            attempts.add(env.id() + " " + rcpts);
            return CompletableFuture.completedFuture(script.apply(env, rcpts));
        };
        worker = new DeliveryWorker(spool, settings, attempt, name -> Optional.of(QueueTestSupport.account(3)), clock,
                null, blocking, meters, new Random(1), "mx.test", 64 * 1024);
        worker.start();
        return worker;
    }

    private Instant nextAttempt(String id) {
        return worker.list().stream().filter(m -> m.id().equals(id)).findFirst().orElseThrow().nextAttempt();
    }

    @Test
    void aFullDiskBacksOffKeepsEveryMessageAndDeliversOnceThereIsRoomAgain() throws Exception {
        startManual(plain());
        Envelope a = queue("app@legacy.example", "a@x.com");
        Envelope b = queue("app@legacy.example", "b@x.com");
        disk.full = true;
        blocking.runAll();
        assertThat(attempts).isEmpty(); // nothing is sent whose attempt could not be recorded first
        assertThat(worker.list()).extracting(SmtpQueue.QueuedMessage::id).containsExactlyInAnyOrder(a.id(), b.id());
        assertThat(nextAttempt(a.id())).isEqualTo(T0.plus(Duration.ofMinutes(1)));

        clock.advance(Duration.ofMinutes(1));
        worker.pump();
        blocking.runAll();
        assertThat(attempts).isEmpty();
        assertThat(nextAttempt(a.id())).isEqualTo(clock.instant().plus(Duration.ofMinutes(2))); // backing off further

        disk.full = false;
        clock.advance(Duration.ofMinutes(2));
        worker.pump();
        blocking.runAll();
        assertThat(attempts).containsExactlyInAnyOrder(a.id() + " [a@x.com]", b.id() + " [b@x.com]");
        assertThat(worker.status().depth()).isZero();
        assertThat(filesInSpool()).isZero();
    }

    @Test
    void oneMessageWhoseStateCannotBeWrittenDoesNotHoldUpTheOthers() throws Exception {
        startManual(plain()); // one connection per account: a message stuck in flight would stall the account
        Envelope first = queue("app@legacy.example", "a@x.com");
        Envelope second = queue("app@legacy.example", "b@x.com");
        String stuck = first.id(); // taken first, as soon as it was accepted; the second waits for the connection
        String other = second.id();
        Files.createDirectory(dir.resolve(stuck + ".state.tmp")); // its state file cannot be written
        blocking.runAll();
        assertThat(attempts).containsExactly(other + " [b@x.com]");
        assertThat(worker.list()).extracting(SmtpQueue.QueuedMessage::id).containsExactly(stuck);

        Files.delete(dir.resolve(stuck + ".state.tmp"));
        clock.advance(Duration.ofMinutes(1));
        worker.pump();
        blocking.runAll();
        assertThat(attempts).hasSize(2).last().asString().startsWith(stuck);
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void workTheExecutorRefusesIsKeptAndSubmittedAgainAfterABackOff() throws Exception {
        startManual(plain());
        blocking.refuse = true;
        Envelope a = queue("app@legacy.example", "a@x.com");
        assertThat(blocking.refused).isPositive();
        blocking.refuse = false;
        worker.pump();
        blocking.runAll();
        assertThat(attempts).isEmpty(); // not before the back-off
        assertThat(worker.list()).extracting(SmtpQueue.QueuedMessage::id).containsExactly(a.id());

        clock.advance(Duration.ofMinutes(1));
        worker.pump();
        blocking.runAll();
        assertThat(attempts).containsExactly(a.id() + " [a@x.com]");
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void aRefusedResultIsRecordedLaterAndTheMessageIsNeverSentTwice() throws Exception {
        startManual(plain());
        script = (env, rcpts) -> {
            blocking.refuse = attempts.size() == 1; // saturated when the first message's 250 comes back
            return new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");
        };
        Envelope a = queue("app@legacy.example", "a@x.com");
        blocking.runAll();
        assertThat(attempts).containsExactly(a.id() + " [a@x.com]");
        assertThat(worker.status().depth()).isEqualTo(1); // the result waits to be recorded
        blocking.refuse = false;
        Envelope b = queue("app@legacy.example", "b@x.com");
        blocking.runAll();
        assertThat(attempts).hasSize(1); // the account's one connection is still a's until its result is in

        clock.advance(Duration.ofMinutes(1));
        worker.pump();
        blocking.runAll();
        assertThat(attempts).containsExactly(a.id() + " [a@x.com]", b.id() + " [b@x.com]");
        assertThat(worker.status().depth()).isZero();
        assertThat(filesInSpool()).isZero();
    }

    @Test
    void aResultStillRefusedAtCloseIsRecordedSoTheNextStartDoesNotSendItAgain() throws Exception {
        startManual(plain());
        script = (env, rcpts) -> {
            blocking.refuse = true; // saturated when the 250 comes back, and still at shutdown
            return new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");
        };
        queue("app@legacy.example", "a@x.com");
        blocking.runAll();
        assertThat(attempts).hasSize(1);
        assertThat(filesInSpool()).isPositive(); // the result waits to be recorded

        worker.close();

        assertThat(filesInSpool()).as("delivered, so gone from the spool: no second send at the next start").isZero();
    }

    @Test
    void aFinishedMessageThatCannotBeRemovedIsRemovedLaterNotSentAgain() throws Exception {
        startManual(plain());
        script = (env, rcpts) -> {
            disk.full = true; // the disk fills during the attempt: the upstream has it, the spool cannot let go
            return new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");
        };
        Envelope a = queue("app@legacy.example", "a@x.com");
        blocking.runAll();
        assertThat(attempts).containsExactly(a.id() + " [a@x.com]");
        worker.pump();
        blocking.runAll();
        clock.advance(Duration.ofMinutes(1));
        worker.pump();
        blocking.runAll();
        assertThat(attempts).hasSize(1);

        disk.full = false;
        clock.advance(Duration.ofMinutes(2));
        worker.pump();
        blocking.runAll();
        assertThat(attempts).hasSize(1);
        assertThat(worker.status().depth()).isZero();
        assertThat(filesInSpool()).isZero();
    }
}
