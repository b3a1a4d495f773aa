package io.mailproxy.smtp.queue;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.smtp.graph.GraphReplies;
import io.mailproxy.smtp.graph.GraphSubmission;
import io.mailproxy.smtp.graph.RecordingGraph;
import io.mailproxy.smtp.queue.AttemptResult.Hold;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The queue's side of Graph: the draft line of the state file, and what each Graph failure does to the account. */
class GraphQueueTest {

    private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");

    @Test
    void theDraftIdSurvivesTheStateFileAndOldFilesStillDecode() throws Exception {
        DeliveryState s = new DeliveryState(2, T0, "451", Set.of(), Map.of(), false, Optional.of("AAMk-draft=="));
        assertThat(DeliveryState.decode(s.encode())).isEqualTo(s);
        byte[] old = ("mailproxy-state 1\nattempts 1\nnext " + T0 + "\nlast-reply \nbounced false\n")
                .getBytes(StandardCharsets.UTF_8);
        assertThat(DeliveryState.decode(old).draft()).isEmpty();
        assertThat(new String(DeliveryState.initial(T0).encode(), StandardCharsets.UTF_8)).doesNotContain("draft");
    }

    private static AttemptResult result(io.mailproxy.core.graph.GraphException e) {
        var f = GraphReplies.of(e);
        return GraphDelivery.result(new GraphSubmission.Result(Set.of(), Map.of(), Optional.of(f)));
    }

    private static Verdict judge(AttemptResult r) {
        Envelope env = new Envelope("MWW-0123456789", "reports@contoso.com", "app", "app@legacy.example",
                "app@legacy.example", List.of(), List.of("a@x.example", "b@x.example"), T0, 100);
        DeliveryState during = new DeliveryState(1, T0, "", Set.of(), Map.of(), false, Optional.of("d1"));
        return Verdict.of(env, during, r, T0, 0, QueueSettings.defaults(),
                new Backoff(Duration.ofMinutes(1), Duration.ofMinutes(8), 0, new Random(1)));
    }

    @Test
    void notAuthorisedDefersTheAccountAndBouncesNothing() {
        Verdict v = judge(result(RecordingGraph.failure(Kind.NOT_AUTHORISED, 403, "ErrorAccessDenied")));
        assertThat(v.after().failed()).isEmpty();
        assertThat(v.pending()).hasSize(2);
        assertThat(v.finished()).isFalse();
        assertThat(v.holdUntil()).isEqualTo(T0.plus(Duration.ofMinutes(1)));
        assertThat(v.holdWhy()).contains("configuration", "454 4.7.0");
        assertThat(v.after().draft()).contains("d1"); // kept for the next attempt's check
    }

    @Test
    void throttlingHoldsTheAccountForRetryAfter() {
        AttemptResult r = result(RecordingGraph.throttled(Duration.ofSeconds(42)));
        assertThat(r.hold()).isEqualTo(Hold.RETRY_AFTER);
        Verdict v = judge(r);
        assertThat(v.holdUntil()).isEqualTo(T0.plusSeconds(42));
        assertThat(v.after().failed()).isEmpty();
    }

    @Test
    void quotaDefersLikeSmtpSubmissionQuota() {
        assertThat(result(RecordingGraph.failure(Kind.QUOTA, 400, "ErrorQuotaExceeded")).hold()).isEqualTo(Hold.QUOTA);
    }

    @Test
    void unavailableBacksOffAndRejectedBouncesEveryRecipient() {
        assertThat(result(RecordingGraph.failure(Kind.SERVER, 500, "x")).hold()).isEqualTo(Hold.CONNECTION);
        var f = GraphReplies.of(RecordingGraph.failure(Kind.REJECTED, 400, "ErrorMessageSizeExceeded"));
        AttemptResult r = GraphDelivery.result(new GraphSubmission.Result(Set.of(),
                Map.of("a@x.example", f.reply().oneLine(), "b@x.example", f.reply().oneLine()), Optional.of(f)));
        Verdict v = judge(r);
        assertThat(v.finished()).isTrue();
        assertThat(v.after().failed().get("a@x.example")).startsWith("552 5.3.4");
    }
}
