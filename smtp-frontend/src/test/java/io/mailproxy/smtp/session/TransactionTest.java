package io.mailproxy.smtp.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.smtp.session.Transaction.Phase;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;

/** What each phase of a transaction means for the session waiting on it. */
class TransactionTest {

    @Test
    void onlyTheFirstTwoPhasesAreStillOpening() {
        assertThat(EnumSet.allOf(Phase.class).stream().filter(Phase::opening))
                .containsExactly(Phase.STARTING, Phase.ACQUIRING);
    }

    @Test
    void theMessageIsTheSinksOnceItsFinalReplyIsDue() {
        assertThat(EnumSet.allOf(Phase.class).stream().filter(Phase::committed))
                .containsExactly(Phase.AWAITING_FINAL, Phase.DONE);
    }

    @Test
    void aNewTransactionBlocksTheSessionUntilItsSinkIsOpen() {
        Transaction t = new Transaction(null, null, 1000);
        assertThat(t.phase).isEqualTo(Phase.STARTING);
        assertThat(t.blocking()).isTrue();
        assertThat(t.waiting()).isTrue();
        t.phase = Phase.ACQUIRING;
        assertThat(t.blocking()).isTrue();
        t.phase = Phase.OPEN;
        assertThat(t.blocking()).isFalse();
        assertThat(t.waiting()).isFalse();
    }

    @Test
    void repliesDueBlockTheSessionAndBackpressureToo() {
        Transaction t = new Transaction(null, null, 1000);
        for (Phase waiting : new Phase[] {Phase.AWAITING_354, Phase.AWAITING_FINAL}) {
            t.phase = waiting;
            assertThat(t.blocking()).as(waiting.name()).isTrue();
            assertThat(t.waiting()).as(waiting.name()).isTrue();
        }
        for (Phase free : new Phase[] {Phase.OPEN, Phase.DATA, Phase.DONE, Phase.DEAD}) {
            t.phase = free;
            assertThat(t.blocking()).as(free.name()).isFalse();
            t.backpressure = true;
            assertThat(t.blocking()).as(free.name() + " with backpressure").isTrue();
            assertThat(t.waiting()).as(free.name() + " with backpressure").isTrue();
            t.backpressure = false;
        }
    }
}
