package io.mailproxy.smtp.queue;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.smtp.queue.AttemptResult.Hold;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** An attempt's result, judged: one row a case, the message in its second attempt, back-off 1 min doubling. */
class VerdictTest {

    private static final Instant T0 = Instant.parse("2026-11-25T12:00:00Z");
    private static final QueueSettings SETTINGS = settings();

    private static QueueSettings settings() {
        QueueSettings d = QueueSettings.defaults();
        return new QueueSettings(d.maxSize(), d.fsyncWindow(), 30, 10_000, 1, Duration.ofMinutes(1),
                Duration.ofMinutes(8), 0, Duration.ofMinutes(30), Duration.ofHours(24), Duration.ofHours(1),
                Optional.empty(), false, d.idlePoll());
    }

    private static List<String> words(String s) {
        return s == null || s.isBlank() ? List.of() : Arrays.asList(s.trim().split(" +"));
    }

    private static Verdict judge(String rcpts, String deliveredBefore, AttemptResult r, long ageMinutes,
                                 int connectionFailures) {
        Envelope env = new Envelope("MWW-0123456789", "reports@contoso.com", "app", "app@legacy.example",
                "app@legacy.example", List.of(), words(rcpts), T0, 100);
        DeliveryState during = new DeliveryState(2, T0, "", Set.copyOf(words(deliveredBefore)), Map.of(), false);
        Backoff backoff = new Backoff(Duration.ofMinutes(1), Duration.ofMinutes(8), 0, new Random(1));
        return Verdict.of(env, during, r, T0.plus(Duration.ofMinutes(ageMinutes)), connectionFailures, SETTINGS,
                backoff);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
        // case                   |rcpts|before|deliv.|refused|hold      |age|cf|pending|failed|finished|expired|retried|next|held|cf after
        "all delivered            | a b | -    | a b  | -     | NONE       | 0 | 3 | -   | -    | true  | false | false | 0 | -    | 0",
        "temporary: back off      | a b | -    | -    | -     | NONE       | 0 | 0 | a b | -    | false | false | true  | 2 | -    | 0",
        "partial                  | a b c | -  | a    | b     | NONE       | 0 | 0 | c   | b    | false | false | true  | 2 | -    | 0",
        "earlier delivery kept    | a b | a    | -    | b     | NONE       | 0 | 0 | -   | b    | true  | false | false | 0 | -    | 0",
        "quota defers the account | a   | -    | -    | -     | QUOTA      | 0 | 2 | a   | -    | false | false | false | 0 | 1440 | 2",
        "throttling pauses it     | a   | -    | -    | -     | THROTTLED  | 0 | 2 | a   | -    | false | false | false | 0 | 60   | 2",
        "upstream down backs off  | a   | -    | -    | -     | CONNECTION | 0 | 2 | a   | -    | false | false | false | 0 | 4    | 3",
        "at max-age: not yet      | a   | -    | -    | -     | NONE       | 30 | 0 | a  | -    | false | false | true  | 2 | -    | 0",
        "past max-age: given up   | a b | -    | a    | -     | NONE       | 31 | 0 | -  | b    | true  | true  | false | 0 | -    | 0",
        "given up while held      | a   | -    | -    | -     | CONNECTION | 31 | 0 | -  | a    | true  | true  | false | 0 | 1    | 1",
    })
    void judgesTheResult(String name, String rcpts, String before, String delivered, String refused, Hold hold,
                         long age, int cf, String pending, String failed, boolean finished, boolean expired,
                         boolean retried, long nextMinutes, Long heldMinutes, int cfAfter) {
        Map<String, String> permanent = new LinkedHashMap<>();
        words(refused).forEach(r -> permanent.put(r, "550 5.1.1 unknown"));
        AttemptResult r = new AttemptResult(Set.copyOf(words(delivered)), permanent, hold, "451 4.4.1 later");
        Instant now = T0.plus(Duration.ofMinutes(age));

        Verdict v = judge(rcpts, before, r, age, cf);

        assertThat(v.pending()).containsExactlyElementsOf(words(pending));
        assertThat(v.after().failed().keySet()).containsExactlyInAnyOrderElementsOf(words(failed));
        assertThat(v.after().delivered()).containsAll(words(before)).containsAll(words(delivered));
        assertThat(v.finished()).isEqualTo(finished);
        assertThat(v.expired()).isEqualTo(expired);
        assertThat(v.retried()).isEqualTo(retried);
        assertThat(v.after().nextAttempt()).isEqualTo(now.plus(Duration.ofMinutes(nextMinutes)));
        assertThat(v.holdUntil()).isEqualTo(heldMinutes == null ? null : now.plus(Duration.ofMinutes(heldMinutes)));
        assertThat(v.connectionFailures()).isEqualTo(cfAfter);
        assertThat(v.after().attempts()).isEqualTo(2);
        assertThat(v.after().lastReply()).isEqualTo("451 4.4.1 later");
    }

    @Test
    void saysWhyTheAccountWaitsAndWhyAnExpiredRecipientFailed() {
        assertThat(judge("a", null, AttemptResult.held(Hold.QUOTA, "554 5.2.0 quota"), 0, 0).holdWhy())
                .isEqualTo("daily recipient quota reached upstream (554 5.2.0 quota)");
        assertThat(judge("a", null, AttemptResult.held(Hold.THROTTLED, "550 5.2.252 x"), 0, 0).holdWhy())
                .isEqualTo("throttled upstream (550 5.2.252 x)");
        assertThat(judge("a", null, AttemptResult.held(Hold.CONNECTION, "UNREACHABLE"), 0, 0).holdWhy())
                .isEqualTo("upstream unavailable (UNREACHABLE)");
        assertThat(judge("a", null, AttemptResult.temporary("451 4.4.1 later"), 31, 0).after().failed())
                .containsEntry("a", "4.4.7 Delivery time expired after 2 attempt(s); last: 451 4.4.1 later");
    }
}
