package io.mailproxy.imap.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.imap.Harness;
import io.mailproxy.testkit.core.FakeLease;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Office 365 ends a session when its token expires: before that, at a safe point, the relay moves the client to a
 * fresh pooled connection and reconciles its view. Time is driven through the channel's scheduler and the
 * injected clock.
 */
class TokenHandoverTest {

    private static final String[] CAPS = Harness.MOVE_CAPABILITIES;
    private final Harness h = new Harness();
    private FakeLease first;
    private FakeLease second;

    @BeforeEach
    void loginAndSelect() {
        first = h.loggedInAndSelected(Duration.ofMinutes(10), CAPS);
        // the proxy's own UID FETCH after SELECT (the message view an upstream BYE would need)
        assertThat(h.upstreamGot()).isEqualTo("mpxv1 UID FETCH 1:* (UID)\r\n");
        h.reply("* 1 FETCH (UID 10)\r\n* 2 FETCH (UID 11)\r\n* 3 FETCH (UID 12)\r\nmpxv1 OK FETCH completed.\r\n");
        assertThat(h.received()).isEmpty();
    }

    @AfterEach
    void close() {
        h.close();
    }

    /** The token is 2 minutes (the default margin) from expiry. */
    private void expiryComes() {
        h.client.advanceTimeBy(8, TimeUnit.MINUTES);
        h.client.runScheduledPendingTasks();
        h.settle();
    }

    private void nextLeaseAvailable() {
        second = h.secondLease(Duration.ofMinutes(70), CAPS);
    }

    @Test
    void betweenCommandsTheClientMovesAndSeesWhatChanged() {
        nextLeaseAvailable();
        expiryComes();
        assertThat(h.upstreamGot()).isEqualTo("mpxh1 UID SEARCH ALL\r\n");
        h.reply("* SEARCH 10 11 12\r\nmpxh1 OK SEARCH completed.\r\n");
        assertThat(h.upstream2Got()).isEqualTo("mpxh1 SELECT INBOX\r\n");
        h.reply2("* 4 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\nmpxh1 OK [READ-WRITE] SELECT completed.\r\n");
        assertThat(h.upstream2Got()).isEqualTo("mpxh2 UID SEARCH ALL\r\n");
        h.reply2("* SEARCH 10 12 13 14\r\nmpxh2 OK SEARCH completed.\r\n");
        assertThat(h.received()).isEqualTo("* 2 EXPUNGE\r\n* 4 EXISTS\r\n");
        assertThat(first.endings).containsExactly("discard");
        assertThat(second.endings).isEmpty();

        h.send("n1 UID FETCH 14 FLAGS\r\n");
        assertThat(h.upstream2Got()).isEqualTo("n1 UID FETCH 14 FLAGS\r\n");
        assertThat(h.upstreamGot()).isEmpty();
        h.reply2("* 4 FETCH (UID 14 FLAGS ())\r\nn1 OK FETCH completed.\r\n");
        assertThat(h.received()).isEqualTo("* 4 FETCH (UID 14 FLAGS ())\r\nn1 OK FETCH completed.\r\n");
        h.send("z LOGOUT\r\n");
        assertThat(second.endings).containsExactly("release(clean)");
    }

    @Test
    void inIdleTheClientKeepsIdlingOnTheNewConnection() {
        nextLeaseAvailable();
        h.send("i1 IDLE\r\n");
        assertThat(h.upstreamGot()).isEqualTo("i1 IDLE\r\n");
        h.reply("+ idling\r\n");
        assertThat(h.received()).isEqualTo("+ idling\r\n");
        expiryComes();
        assertThat(h.upstreamGot()).isEqualTo("DONE\r\n");
        h.reply("i1 OK IDLE terminated\r\n");
        assertThat(h.upstreamGot()).isEqualTo("mpxh1 UID SEARCH ALL\r\n");
        h.reply("* SEARCH 10 11 12\r\nmpxh1 OK done\r\n");
        assertThat(h.upstream2Got()).isEqualTo("mpxh1 SELECT INBOX\r\n");
        h.reply2("* OK [UIDVALIDITY 7] ok\r\nmpxh1 OK done\r\n");
        h.reply2("* SEARCH 11 12 20\r\nmpxh2 OK done\r\n");
        assertThat(h.upstream2Got()).isEqualTo("mpxh2 UID SEARCH ALL\r\ni1 IDLE\r\n");
        h.reply2("+ idling\r\n");
        assertThat(h.received()).as("the client saw nothing but the changes").isEqualTo("* 1 EXPUNGE\r\n* 3 EXISTS\r\n");
        h.reply2("* 4 EXISTS\r\n");
        assertThat(h.received()).isEqualTo("* 4 EXISTS\r\n");
        h.send("DONE\r\n");
        assertThat(h.upstream2Got()).isEqualTo("DONE\r\n");
        h.reply2("i1 OK IDLE terminated\r\n");
        assertThat(h.received()).isEqualTo("i1 OK IDLE terminated\r\n");
        assertThat(first.endings).containsExactly("discard");
    }

    @Test
    void withoutASelectedMailboxOnlyTheConnectionChanges() {
        nextLeaseAvailable();
        h.send("u1 UNSELECT\r\n");
        h.upstreamGot();
        h.reply("u1 OK UNSELECT completed.\r\n");
        h.received();
        expiryComes();
        assertThat(h.upstreamGot()).isEmpty();
        assertThat(h.upstream2Got()).isEmpty();
        assertThat(h.received()).isEmpty();
        assertThat(first.endings).containsExactly("discard");
        h.send("l1 LIST \"\" %\r\n");
        assertThat(h.upstream2Got()).isEqualTo("l1 LIST \"\" %\r\n");
    }

    @Test
    void aSessionThatUsedEnableIsEndedInsteadOfMoved() {
        nextLeaseAvailable();
        h.send("e1 ENABLE UTF8=ACCEPT\r\n");
        h.upstreamGot();
        h.reply("* ENABLED UTF8=ACCEPT\r\ne1 OK ENABLE completed\r\n");
        h.received();
        expiryComes();
        assertThat(h.received()).isEqualTo("* BYE [UNAVAILABLE] The mail server session expired, please reconnect\r\n");
        assertThat(first.endings).containsExactly("discard");
        assertThat(h.upstream2Got()).isEmpty();
    }

    @Test
    void waitsForTheCommandInFlight() {
        nextLeaseAvailable();
        h.send("f1 FETCH 1:* FLAGS\r\n");
        assertThat(h.upstreamGot()).isEqualTo("f1 FETCH 1:* FLAGS\r\n");
        expiryComes();
        assertThat(h.upstreamGot()).isEmpty();
        h.reply("* 1 FETCH (FLAGS ())\r\nf1 OK done\r\n");
        assertThat(h.received()).isEqualTo("* 1 FETCH (FLAGS ())\r\nf1 OK done\r\n");
        assertThat(h.upstreamGot()).isEqualTo("mpxh1 UID SEARCH ALL\r\n");
    }

    @Test
    void changedUidValiditySaysByeUnavailable() {
        nextLeaseAvailable();
        expiryComes();
        h.reply("* SEARCH 10 11 12\r\nmpxh1 OK done\r\n");
        h.upstream2Got();
        h.reply2("* OK [UIDVALIDITY 8] new\r\nmpxh1 OK done\r\n");
        assertThat(h.received()).isEqualTo("* BYE [UNAVAILABLE] The mail server session expired, please reconnect\r\n");
        assertThat(h.client.isOpen()).isFalse();
        assertThat(first.endings).containsExactly("discard");
        assertThat(second.endings).containsExactly("discard");
    }

    @Test
    void noConnectionToBeHadSaysByeUnavailable() {
        expiryComes();
        h.reply("* SEARCH 10 11 12\r\nmpxh1 OK done\r\n");
        assertThat(h.received()).isEqualTo("* BYE [UNAVAILABLE] The mail server session expired, please reconnect\r\n");
        assertThat(first.endings).containsExactly("discard");
    }

    @Test
    void aSelectWithoutUidValidityDoesNotInheritThePreviousMailboxs() {
        h.send("s2 SELECT Other\r\n");
        assertThat(h.upstreamGot()).isEqualTo("s2 SELECT Other\r\n");
        h.reply("* 1 EXISTS\r\ns2 OK [READ-WRITE] SELECT completed.\r\n");
        h.received();
        assertThat(h.upstreamGot()).isEqualTo("mpxv2 UID FETCH 1:* (UID)\r\n");
        h.reply("* 1 FETCH (UID 5)\r\nmpxv2 OK FETCH completed.\r\n");
        nextLeaseAvailable();
        expiryComes();
        assertThat(h.upstreamGot()).isEqualTo("mpxh1 UID SEARCH ALL\r\n");
        h.reply("* SEARCH 5\r\nmpxh1 OK SEARCH completed.\r\n");
        assertThat(h.upstream2Got()).isEqualTo("mpxh1 SELECT Other\r\n");
        h.reply2("* 1 EXISTS\r\n* OK [UIDVALIDITY 9] UIDs valid\r\nmpxh1 OK [READ-WRITE] SELECT completed.\r\n");
        assertThat(h.upstream2Got()).as("INBOX's UIDVALIDITY 7 is not Other's").isEqualTo("mpxh2 UID SEARCH ALL\r\n");
        h.reply2("* SEARCH 5\r\nmpxh2 OK SEARCH completed.\r\n");
        assertThat(h.received()).isEmpty();
        assertThat(h.client.isOpen()).isTrue();
    }

    @Test
    void theHandoverLimitIsASetting() {
        try (Harness small = new Harness()) {
            Instant now = small.core.clock.instant();
            small.core.client("alice", "secret", ClientConfig.ImapPolicy.DEFAULT, Protocol.IMAP);
            small.core.configure("imap.handover-limit = 1k");
            small.core.nextLease(small.upstream, Optional.of(now.plus(Duration.ofMinutes(10))), CAPS);
            small.start().received();
            small.send("a1 LOGIN alice secret\r\n");
            assertThat(small.received()).startsWith("a1 OK ");
            small.send("s1 SELECT INBOX\r\n");
            small.reply("* 300 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\ns1 OK [READ-WRITE] SELECT completed.\r\n");
            small.received();
            small.reply("mpxv1 OK FETCH completed.\r\n"); // the message view's UIDs: none said
            small.core.nextLease(small.upstream2, Optional.of(now.plus(Duration.ofMinutes(70))), CAPS);
            small.client.advanceTimeBy(8, TimeUnit.MINUTES);
            small.client.runScheduledPendingTasks();
            small.settle();
            assertThat(small.upstreamGot())
                    .isEqualTo("s1 SELECT INBOX\r\nmpxv1 UID FETCH 1:* (UID)\r\nmpxh1 UID SEARCH ALL\r\n");
            StringBuilder search = new StringBuilder("* SEARCH");
            for (int uid = 1000; uid < 1300; uid++) {
                search.append(' ').append(uid);
            }
            small.reply(search + "\r\nmpxh1 OK SEARCH completed.\r\n");
            assertThat(small.received()).as("a 1.5 KB UID list is over the configured 1 KB")
                    .isEqualTo("* BYE [UNAVAILABLE] The mail server session expired, please reconnect\r\n");
        }
    }
}
