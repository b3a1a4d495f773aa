package io.mailproxy.imap.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.testkit.core.FakeLease;
import io.mailproxy.imap.Harness;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Office 365 ends sessions on its own: {@code * BYE Session invalidated - AccessTokenExpired} when the token it
 * holds stops being valid, {@code * BYE Connection closed.} or a plain reset on mailbox moves and maintenance
 * (research-o365.md section 2). At a safe point the relay recovers on a fresh connection from its own
 * sequence-to-UID map; the client sees only the mailbox's real changes.
 */
class UpstreamEndedTest {

    private static final String[] CAPS = Harness.MOVE_CAPABILITIES;
    private static final String UNAVAILABLE =
            "* BYE [UNAVAILABLE] Connection to the mail server was lost, please reconnect\r\n";
    private final Harness h = new Harness();
    private FakeLease first;
    private FakeLease second;

    @BeforeEach
    void loginAndSelect() {
        first = h.loggedInAndSelected(Duration.ofMinutes(60), CAPS);
    }

    @AfterEach
    void close() {
        h.close();
    }

    /** The proxy's own UID FETCH after SELECT fills its map; the client sees none of it. */
    private void mapFilled() {
        assertThat(h.upstreamGot()).isEqualTo("mpxv1 UID FETCH 1:* (UID)\r\n");
        h.reply("* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 11)\r\n* 3 FETCH (UID 12)\r\nmpxv1 OK FETCH completed.\r\n");
        assertThat(h.received()).isEmpty();
    }

    private void nextLeaseAvailable() {
        second = h.secondLease(Duration.ofMinutes(70), CAPS);
    }

    private double recoveries(String outcome) {
        var c = h.core.meters.find("mailproxy.imap.recoveries").tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void aByeInIdleIsRecoveredFromAndTheClientSeesOnlyRealChanges() {
        mapFilled();
        nextLeaseAvailable();
        h.send("i1 IDLE\r\n");
        assertThat(h.upstreamGot()).isEqualTo("i1 IDLE\r\n");
        h.reply("+ idling\r\n");
        assertThat(h.received()).isEqualTo("+ idling\r\n");

        h.reply("* BYE Session invalidated - AccessTokenExpired\r\n");
        h.upstream.close();
        h.settle();
        assertThat(first.tokenRejected).as("the token the BYE named is dropped").isTrue();
        assertThat(first.endings).containsExactly("discard");
        assertThat(h.upstream2Got()).isEqualTo("mpxh1 SELECT INBOX\r\n");
        h.reply2("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\nmpxh1 OK [READ-WRITE] SELECT completed.\r\n");
        assertThat(h.upstream2Got()).isEqualTo("mpxh2 UID SEARCH ALL\r\n");
        h.reply2("* SEARCH 10 12 13\r\nmpxh2 OK SEARCH completed.\r\n");
        assertThat(h.upstream2Got()).isEqualTo("i1 IDLE\r\n");
        h.reply2("+ idling\r\n");
        assertThat(h.received()).as("message 11 went while the session was away, 13 came")
                .isEqualTo("* 2 EXPUNGE\r\n* 3 EXISTS\r\n");
        assertThat(h.client.isOpen()).isTrue();

        h.reply2("* 4 EXISTS\r\n");
        assertThat(h.received()).isEqualTo("* 4 EXISTS\r\n");
        h.send("DONE\r\n");
        assertThat(h.upstream2Got()).isEqualTo("DONE\r\n");
        h.reply2("i1 OK IDLE terminated\r\n");
        assertThat(h.received()).isEqualTo("i1 OK IDLE terminated\r\n");
        assertThat(recoveries("recovered")).isEqualTo(1);
        assertThat(second.endings).isEmpty();
    }

    @Test
    void aResetBetweenCommandsIsRecoveredFromWithTheSameToken() {
        mapFilled();
        nextLeaseAvailable();
        h.reply("* 2 EXPUNGE\r\n"); // the client's view is now 10 12
        assertThat(h.received()).isEqualTo("* 2 EXPUNGE\r\n");
        h.upstream.close(); // a mailbox move: the connection simply ends
        h.settle();
        assertThat(first.tokenRejected).isFalse();
        assertThat(h.upstream2Got()).isEqualTo("mpxh1 SELECT INBOX\r\n");
        h.reply2("* OK [UIDVALIDITY 7] UIDs valid\r\nmpxh1 OK [READ-WRITE] SELECT completed.\r\n");
        assertThat(h.upstream2Got()).isEqualTo("mpxh2 UID SEARCH ALL\r\n");
        h.reply2("* SEARCH 12 14\r\nmpxh2 OK SEARCH completed.\r\n");
        assertThat(h.received()).isEqualTo("* 1 EXPUNGE\r\n* 2 EXISTS\r\n");
        h.send("t1 STORE 1 +FLAGS (\\Deleted)\r\n");
        assertThat(h.upstream2Got()).as("the client's message 1 is UID 12, the fresh connection's 1 too")
                .isEqualTo("t1 STORE 1 +FLAGS (\\Deleted)\r\n");
    }

    @Test
    void aCommandInFlightGetsByeUnavailable() {
        mapFilled();
        nextLeaseAvailable();
        h.send("f1 FETCH 1:* FLAGS\r\n");
        h.upstreamGot();
        h.reply("* BYE Connection closed.\r\n");
        assertThat(h.received()).isEqualTo(UNAVAILABLE);
        assertThat(h.upstream2Got()).isEmpty();
        assertThat(recoveries("not_safe")).isEqualTo(1);
    }

    @Test
    void withoutACompleteMapTheClientGetsBye() {
        nextLeaseAvailable();
        assertThat(h.upstreamGot()).isEqualTo("mpxv1 UID FETCH 1:* (UID)\r\n");
        h.reply("* 1 FETCH (UID 10)\r\nmpxv1 OK FETCH completed.\r\n"); // 2 and 3 never said
        h.reply("* BYE Connection closed.\r\n");
        assertThat(h.received()).isEqualTo(UNAVAILABLE);
        assertThat(h.upstream2Got()).isEmpty();
    }

    @Test
    void newMessagesLearnTheirUidsFromTheClientsFetch() {
        mapFilled();
        nextLeaseAvailable();
        h.reply("* 4 EXISTS\r\n");
        h.send("f1 FETCH 4 (UID FLAGS)\r\n");
        h.reply("* 4 FETCH (FLAGS () UID 15)\r\nf1 OK done\r\n");
        assertThat(h.received()).isEqualTo("* 4 EXISTS\r\n* 4 FETCH (FLAGS () UID 15)\r\nf1 OK done\r\n");
        h.reply("* BYE Connection closed.\r\n");
        h.reply2("* OK [UIDVALIDITY 7] ok\r\nmpxh1 OK done\r\n");
        h.reply2("* SEARCH 10 11 12 15\r\nmpxh2 OK done\r\n");
        assertThat(h.received()).isEmpty();
        assertThat(h.client.isOpen()).isTrue();
    }

    @Test
    void aChangedUidValidityGetsByeUnavailable() {
        mapFilled();
        nextLeaseAvailable();
        h.reply("* BYE Connection closed.\r\n");
        h.reply2("* OK [UIDVALIDITY 8] new\r\nmpxh1 OK done\r\n");
        assertThat(h.received()).isEqualTo(UNAVAILABLE);
        assertThat(second.endings).containsExactly("discard");
        assertThat(recoveries("uidvalidity_changed")).isEqualTo(1);
    }

    @Test
    void noUpstreamAfterTheCappedAttemptsGetsByeUnavailable() {
        mapFilled();
        h.reply("* BYE Connection closed.\r\n");
        assertThat(h.received()).isEmpty();
        h.client.advanceTimeBy(1, TimeUnit.SECONDS); // 1 s, then 2 s, then 4 s: four attempts
        h.client.runScheduledPendingTasks();
        h.settle();
        assertThat(h.received()).isEmpty();
        h.client.advanceTimeBy(2, TimeUnit.SECONDS);
        h.client.runScheduledPendingTasks();
        h.settle();
        h.client.advanceTimeBy(4, TimeUnit.SECONDS);
        h.client.runScheduledPendingTasks();
        h.settle();
        assertThat(h.received()).isEqualTo(UNAVAILABLE);
        assertThat(recoveries("failed")).isEqualTo(1);
    }

    @Test
    void aSecondAttemptAfterTheBackoffSucceeds() {
        mapFilled();
        h.reply("* BYE Connection closed.\r\n");
        nextLeaseAvailable();
        h.client.advanceTimeBy(1, TimeUnit.SECONDS);
        h.client.runScheduledPendingTasks();
        h.settle();
        assertThat(h.upstream2Got()).isEqualTo("mpxh1 SELECT INBOX\r\n");
        h.reply2("* OK [UIDVALIDITY 7] ok\r\nmpxh1 OK done\r\n");
        assertThat(h.upstream2Got()).isEqualTo("mpxh2 UID SEARCH ALL\r\n");
        h.reply2("* SEARCH 10 11 12\r\nmpxh2 OK done\r\n");
        assertThat(h.received()).isEmpty();
        h.send("n1 NOOP\r\n");
        assertThat(h.upstream2Got()).isEqualTo("n1 NOOP\r\n");
    }

    @Test
    void anIdleSentWhileTheMapIsFilledGoesOnceItIs() {
        h.send("i1 IDLE\r\n");
        assertThat(h.upstreamGot()).isEqualTo("mpxv1 UID FETCH 1:* (UID)\r\n");
        h.reply("* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 11)\r\n* 3 FETCH (UID 12)\r\nmpxv1 OK FETCH completed.\r\n");
        assertThat(h.upstreamGot()).isEqualTo("i1 IDLE\r\n");
    }

    @Test
    void theClientsCommandsWaitWhileTheMapIsFilled() {
        h.send("n1 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("mpxv1 UID FETCH 1:* (UID)\r\n");
        h.reply("* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 11)\r\n* 1 FETCH (FLAGS (\\Seen))\r\n* 3 FETCH (UID 12)\r\n"
                + "mpxv1 OK FETCH completed.\r\n");
        assertThat(h.received()).as("only what is not the proxy's answer").isEqualTo("* 1 FETCH (FLAGS (\\Seen))\r\n");
        assertThat(h.upstreamGot()).isEqualTo("n1 NOOP\r\n");
    }
}
