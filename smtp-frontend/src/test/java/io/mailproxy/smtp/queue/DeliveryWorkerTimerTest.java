package io.mailproxy.smtp.queue;

import static io.mailproxy.smtp.queue.QueueTestSupport.accept;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.smtp.queue.AttemptResult.Hold;
import io.mailproxy.testkit.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker's own timer: every queued message is attempted (or bounced) at its time with no other mail arriving
 * and nobody calling {@link DeliveryWorker#pump}. Only the scheduler moves time here.
 */
class DeliveryWorkerTimerTest {

    private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");
    private static final String BODY = "From: a@legacy.example\r\nSubject: s\r\n\r\nbody\r\n";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(T0);
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final List<String> attempts = new CopyOnWriteArrayList<>();
    private volatile BiFunction<Envelope, List<String>, AttemptResult> script = (env, rcpts) -> delivered(rcpts);
    private Spool spool;
    private DeliveryWorker worker;
    private ScheduledExecutorService realScheduler;

    @AfterEach
    void stop() {
        if (worker != null) {
            worker.close();
        }
        if (realScheduler != null) {
            realScheduler.shutdownNow();
        }
        assertThat(scheduler.errors()).isEmpty();
    }

    private static AttemptResult delivered(List<String> rcpts) {
        return new AttemptResult(Set.copyOf(rcpts), Map.of(), Hold.NONE, "250 2.0.0 OK");
    }

    /** Defaults (idle poll 30 s, first back-off 1 min) without jitter, bounces to the administrator. */
    private static QueueSettings settings(Duration initialBackoff, Duration maxBackoff, Duration maxAge,
                                          Duration idlePoll) {
        QueueSettings d = QueueSettings.defaults();
        return new QueueSettings(d.maxSize(), d.fsyncWindow(), 30, 10_000, 1, initialBackoff, maxBackoff, 0, maxAge,
                d.quotaDeferral(), d.throttlePause(), Optional.of("postmaster@contoso.com"), false, idlePoll);
    }

    private static QueueSettings plain() {
        QueueSettings d = QueueSettings.defaults();
        return settings(d.initialBackoff(), d.maxBackoff(), d.maxAge(), d.idlePoll());
    }

    private DeliveryWorker start(QueueSettings settings, Clock time, ScheduledExecutorService timers) throws Exception {
        spool = Spool.open(dir, 1L << 30, QueueTestSupport.NO_SYNC, Runnable::run, time, Duration.ZERO);
        Attempt attempt = (env, rcpts) -> {
            attempts.add(env.id() + " " + rcpts);
            return CompletableFuture.completedFuture(script.apply(env, rcpts));
        };
        worker = new DeliveryWorker(spool, settings, attempt, name -> Optional.of(QueueTestSupport.account(3)), time,
                timers, Runnable::run, new SimpleMeterRegistry(), new Random(1), "mx.test", 64 * 1024);
        worker.start();
        return worker;
    }

    private DeliveryWorker start(QueueSettings settings) throws Exception {
        return start(settings, clock, scheduler);
    }

    private Envelope queue(String... rcpts) throws Exception {
        return accept(spool, "app@legacy.example", List.of(rcpts), BODY);
    }

    @Test
    void aDeferredMessageIsTriedAgainAtItsTimeWithNoOtherMail() throws Exception {
        start(plain());
        script = (env, rcpts) -> attempts.size() == 1 ? AttemptResult.temporary("451 4.4.1 try later")
                : delivered(rcpts);
        Envelope msg = queue("boss@contoso.com");
        assertThat(attempts).hasSize(1);
        assertThat(worker.list()).singleElement()
                .satisfies(m -> assertThat(m.nextAttempt()).isEqualTo(T0.plus(Duration.ofMinutes(1))));

        scheduler.advance(Duration.ofSeconds(59)); // the idle poll at 30 s finds nothing due
        assertThat(attempts).hasSize(1);
        assertThat(scheduler.queued()).as("one timer, never none and never two").isEqualTo(1);

        scheduler.advance(Duration.ofSeconds(1));
        assertThat(attempts).containsExactly(msg.id() + " [boss@contoso.com]", msg.id() + " [boss@contoso.com]");
        assertThat(worker.status().depth()).isZero();
        assertThat(scheduler.queued()).isEqualTo(1);
    }

    @Test
    void aMessageRecoveredAfterARestartIsTriedAtItsTime() throws Exception {
        start(plain());
        script = (env, rcpts) -> AttemptResult.temporary("451 4.4.1 try later");
        Envelope msg = queue("boss@contoso.com");
        worker.close();

        attempts.clear();
        script = (env, rcpts) -> delivered(rcpts);
        clock.advance(Duration.ofSeconds(10)); // a new process, 50 s before the message's next attempt
        start(plain());
        assertThat(attempts).isEmpty();

        scheduler.advance(Duration.ofSeconds(49));
        assertThat(attempts).isEmpty();
        scheduler.advance(Duration.ofSeconds(1));
        assertThat(attempts).containsExactly(msg.id() + " [boss@contoso.com]");
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void aQuotaDeferralEndsOnItsOwnAfter24Hours() throws Exception {
        start(plain());
        script = (env, rcpts) -> AttemptResult.held(Hold.QUOTA,
                "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException");
        Envelope msg = queue("boss@contoso.com");
        assertThat(worker.status().heldAccounts()).isNotEmpty();
        script = (env, rcpts) -> delivered(rcpts);

        scheduler.advance(Duration.ofHours(24).minusSeconds(1));
        assertThat(attempts).hasSize(1);
        scheduler.advance(Duration.ofSeconds(1));
        assertThat(attempts).hasSize(2).last().isEqualTo(msg.id() + " [boss@contoso.com]");
        assertThat(worker.status().heldAccounts()).isEmpty();
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void aThrottlePauseEndsOnItsOwnAfterAnHour() throws Exception {
        start(plain());
        script = (env, rcpts) -> AttemptResult.held(Hold.THROTTLED, "550 5.2.252 SendAsDenied; throttled");
        queue("boss@contoso.com");
        script = (env, rcpts) -> delivered(rcpts);

        scheduler.advance(Duration.ofMinutes(59));
        assertThat(attempts).hasSize(1);
        scheduler.advance(Duration.ofMinutes(1));
        assertThat(attempts).hasSize(2);
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void aMessageThatKeepsFailingIsBouncedAtMaxAgeWithNoOtherMail() throws Exception {
        start(settings(Duration.ofMinutes(1), Duration.ofMinutes(8), Duration.ofMinutes(30), Duration.ofSeconds(30)));
        script = (env, rcpts) -> env.id().endsWith("-DSN") ? delivered(rcpts)
                : AttemptResult.temporary("451 4.4.1 try later");
        Envelope msg = queue("boss@contoso.com");

        scheduler.advance(Duration.ofMinutes(40)); // attempts at 0, 1, 3, 7, 15, 23, 31 min: the last gives up

        assertThat(attempts).filteredOn(a -> a.startsWith(msg.id() + " ")).hasSize(7);
        assertThat(attempts).last().isEqualTo(msg.id() + "-DSN [postmaster@contoso.com]");
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void theIdlePollKeepsRunningWithOneTimerAtATime() throws Exception {
        start(plain());
        assertThat(scheduler.queued()).isEqualTo(1);
        for (int i = 0; i < 5; i++) {
            scheduler.advance(Duration.ofSeconds(30));
            assertThat(scheduler.queued()).as("after idle poll %d", i + 1).isEqualTo(1);
        }
        // a message accepted in between wakes the worker at once and leaves still one timer
        queue("boss@contoso.com");
        assertThat(attempts).hasSize(1);
        assertThat(scheduler.queued()).isEqualTo(1);
    }

    @Test
    void aRealSchedulerRetriesADeferredMessageOnItsOwn() throws Exception {
        realScheduler = Executors.newSingleThreadScheduledExecutor();
        // idle poll shorter than the back-off: the message is due after the first timer run found nothing to do
        start(settings(Duration.ofMillis(300), Duration.ofMillis(300), Duration.ofDays(2), Duration.ofMillis(100)),
                Clock.systemUTC(), realScheduler);
        script = (env, rcpts) -> attempts.size() == 1 ? AttemptResult.temporary("451 4.4.1 try later")
                : delivered(rcpts);
        queue("boss@contoso.com");
        assertThat(attempts).hasSize(1);

        await().atMost(Duration.ofSeconds(5)).until(() -> attempts.size() == 2);
        await().atMost(Duration.ofSeconds(5)).until(() -> worker.status().depth() == 0);
    }
}
