package io.mailproxy.imap.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The hand-over's own bookkeeping; the move itself is driven end to end in {@link TokenHandoverTest}. */
class HandoverTest {

    /** The UIDs the client saw, the UIDs the new connection has, and what the client is told (";" for CRLF). */
    @ParameterizedTest(name = "[{0}] -> [{1}]: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            10 11 12   | 10 12 13 14 | * 2 EXPUNGE;* 4 EXISTS;
            10 11 12   | 11 12 20    | * 1 EXPUNGE;* 3 EXISTS;
            10 11 12   | 10 11 12    | ''
            10 11 12   | ''          | * 3 EXPUNGE;* 2 EXPUNGE;* 1 EXPUNGE;
            ''         | 1 2         | * 2 EXISTS;
            ''         | ''          | ''
            12 10 11   | 12 11       | * 1 EXPUNGE;
            1 2 3 4 5  | 2 4 6       | * 5 EXPUNGE;* 3 EXPUNGE;* 1 EXPUNGE;* 3 EXISTS;
            """)
    void reconcileTellsTheClientWhatChanged(String before, String after, String told) {
        assertThat(Handover.reconcile(uids(before), uids(after))).isEqualTo(told.replace(";", "\r\n"));
    }

    @Test
    void reconcileLeavesItsInputsAlone() {
        long[] before = {12, 10, 11};
        long[] after = {11, 10};
        Handover.reconcile(before, after);
        assertThat(before).containsExactly(12, 10, 11);
        assertThat(after).containsExactly(11, 10);
    }

    @Test
    void aRestartedIdlesContinuationIsTakenOnce() {
        Handover h = new Handover(null, null, null, null, null);
        assertThat(h.takeIdleContinuation()).isFalse();
        h.start("i1");
        assertThat(h.idleTag()).isEqualTo("i1");
        h.idleRestarted();
        assertThat(h.idleTag()).isNull();
        assertThat(h.awaitsIdleContinuation()).isTrue();
        assertThat(h.takeIdleContinuation()).isTrue();
        assertThat(h.takeIdleContinuation()).isFalse();
        assertThat(h.awaitsIdleContinuation()).isFalse();
    }

    private static long[] uids(String list) {
        return list.isEmpty() ? new long[0] : Arrays.stream(list.split(" ")).mapToLong(Long::parseLong).toArray();
    }
}
