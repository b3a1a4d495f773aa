package io.mailproxy.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.smtp.queue.Attempt;
import io.mailproxy.smtp.queue.AttemptResult;
import io.mailproxy.smtp.queue.AttemptResult.Hold;
import io.mailproxy.smtp.queue.DeliveryWorker;
import io.mailproxy.smtp.queue.Envelope;
import io.mailproxy.smtp.queue.Spool;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One delivery attempt from the spool over a pooled connection to the scripted upstream: what each reply means. */
class QueueDeliveryTest {

    /** Dot-stuffed as stored; a 200 KiB body so that it streams in several chunks. */
    private static final String STORED = "From: a@legacy.example\r\nSubject: q\r\n\r\n..leading dot\r\n..\r\n...\r\n"
            + ("0123456789".repeat(99) + "\r\n").repeat(200) + "end\r\n";

    @TempDir
    Path dir;

    private Fixture fx;
    private Spool spool;
    private Attempt attempt;

    @BeforeEach
    void start() throws Exception {
        fx = new Fixture();
        spool = Spool.open(dir, 1L << 30, Spool.Durability.FSYNC, fx.executor, Clock.systemUTC(), Duration.ZERO);
        attempt = DeliveryWorker.overPool(fx.pools, name -> Optional.of(Fixture.account()), spool, fx.executor,
                Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() throws Exception {
        fx.close();
    }

    private Envelope stored(String... rcpts) throws Exception {
        Spool.Writer w = spool.newMessage();
        w.write(Unpooled.copiedBuffer(STORED, StandardCharsets.ISO_8859_1));
        return w.commit(Fixture.ACCOUNT_FROM, "app", "a@legacy.example", "a@legacy.example", List.of("BODY=8BITMIME"),
                List.of(rcpts)).get(5, TimeUnit.SECONDS);
    }

    private AttemptResult deliver(Envelope env) throws Exception {
        return attempt.deliver(env, env.recipients()).get(10, TimeUnit.SECONDS);
    }

    @Test
    void sendsTheStoredMessageByteForByteAndReportsEachRecipient() throws Exception {
        Envelope env = stored("a@contoso.com", "reject@contoso.com", "b@contoso.com");
        AttemptResult r = deliver(env);
        assertThat(r.delivered()).containsExactlyInAnyOrder("a@contoso.com", "b@contoso.com");
        assertThat(r.permanent()).containsOnlyKeys("reject@contoso.com");
        assertThat(r.permanent().get("reject@contoso.com")).startsWith("550 5.1.10");
        assertThat(r.hold()).isEqualTo(Hold.NONE);
        assertThat(fx.upstream.messages).containsExactly(STORED); // the stuffing went up exactly as stored
        assertThat(fx.upstream.allReceived()).contains("MAIL FROM:<a@legacy.example> SIZE=" + STORED.length()
                + " BODY=8BITMIME\r\n");
        org.awaitility.Awaitility.await().until(() -> fx.pools.released.get() == 1);
    }

    /** The worker's next attempt must find the previous connection back in the pool, not make it open another. */
    @Test
    void eachResultComesOnlyOnceItsLeaseIsBackInThePool() throws Exception {
        for (int i = 1; i <= 5; i++) {
            deliver(stored("a@contoso.com"));
            assertThat(fx.pools.released.get()).isEqualTo(i);
        }
        fx.upstream.mailReply = line -> "550 5.7.60 SMTP; Client does not have permissions to send as this sender";
        deliver(stored("a@contoso.com"));
        assertThat(fx.pools.released.get()).isEqualTo(6);
        assertThat(fx.pools.releasedUnclean.get()).isZero();
    }

    @Test
    void quotaReplyAtTheFinalDotHoldsTheAccount() throws Exception {
        fx.upstream.finalReply = "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException;"
                + " Failed to process message due to a permanent exception";
        AttemptResult r = deliver(stored("a@contoso.com"));
        assertThat(r.hold()).isEqualTo(Hold.QUOTA);
        assertThat(r.delivered()).isEmpty();
        assertThat(r.permanent()).isEmpty(); // not bounced: it goes once the quota lifts
    }

    @Test
    void throttlingReplyHoldsTheAccount() throws Exception {
        fx.upstream.mailReply = line -> "550 5.2.252 SendAsDenied; throttled for sending too much";
        AttemptResult r = deliver(stored("a@contoso.com"));
        assertThat(r.hold()).isEqualTo(Hold.THROTTLED);
        assertThat(r.permanent()).isEmpty();
        assertThat(fx.upstream.finalDots.get()).isZero();
    }

    @Test
    void a250ToDataIsNoDelivery() throws Exception {
        fx.upstream.dataReply = "250 2.0.0 OK";
        AttemptResult r = deliver(stored("a@contoso.com", "reject@contoso.com"));
        assertThat(r.delivered()).isEmpty();
        assertThat(r.permanent()).containsOnlyKeys("reject@contoso.com");
        assertThat(r.hold()).isEqualTo(Hold.NONE);
        assertThat(r.lastReply()).contains("250 2.0.0 OK");
        assertThat(fx.upstream.messages).isEmpty();
        assertThat(fx.pools.discarded.get()).isEqualTo(1);
    }

    @Test
    void temporaryAndPermanentFinalReplies() throws Exception {
        fx.upstream.finalReply = "451 4.7.500 Server busy. Please try again later";
        AttemptResult r = deliver(stored("a@contoso.com"));
        assertThat(r.hold()).isEqualTo(Hold.NONE);
        assertThat(r.delivered()).isEmpty();
        assertThat(r.permanent()).isEmpty();
        assertThat(r.lastReply()).startsWith("451 4.7.500");

        fx.upstream.finalReply = "550 5.7.60 SMTP; Client does not have permissions to send as this sender";
        r = deliver(stored("a@contoso.com"));
        assertThat(r.permanent()).containsOnlyKeys("a@contoso.com");
    }

    @Test
    void upstreamLostMidDataIsAConnectionFailureWithNothingDelivered() throws Exception {
        fx.upstream.dropAfterDataOctets = 50_000;
        AttemptResult r = deliver(stored("a@contoso.com"));
        assertThat(r.hold()).isEqualTo(Hold.CONNECTION);
        assertThat(r.delivered()).isEmpty();
        assertThat(fx.upstream.finalDots.get()).isZero();
    }

    /** A saturated executor while the message streams: the attempt ends (no final dot) instead of hanging. */
    @Test
    void executorRefusingTheSpoolReadEndsTheAttemptWithoutTheFinalDot() throws Exception {
        java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
        attempt = DeliveryWorker.overPool(fx.pools, name -> Optional.of(Fixture.account()), spool, task -> {
            if (reads.incrementAndGet() > 2) {
                throw new java.util.concurrent.RejectedExecutionException("saturated");
            }
            fx.executor.execute(task);
        }, Duration.ofSeconds(5));
        AttemptResult r = deliver(stored("a@contoso.com", "reject@contoso.com"));
        assertThat(r.delivered()).isEmpty();
        assertThat(r.permanent()).containsOnlyKeys("reject@contoso.com");
        assertThat(r.lastReply()).contains("refused");
        assertThat(fx.upstream.finalDots.get()).isZero();
        assertThat(fx.pools.discarded.get()).isEqualTo(1);
    }

    @Test
    void noConnectionIsAConnectionFailure() throws Exception {
        fx.pools.failWith = new UpstreamException(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE,
                "token endpoint unreachable");
        AttemptResult r = deliver(stored("a@contoso.com"));
        assertThat(r.hold()).isEqualTo(Hold.CONNECTION);
        fx.pools.failWith = new UpstreamException(UpstreamException.Kind.QUOTA, "quota", "554 5.2.0 "
                + "STOREDRV.Submission.Exception:SubmissionQuotaExceededException", null);
        assertThat(deliver(stored("a@contoso.com")).hold()).isEqualTo(Hold.QUOTA);
    }
}
