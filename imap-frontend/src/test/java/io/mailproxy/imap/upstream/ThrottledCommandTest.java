package io.mailproxy.imap.upstream;

import static io.mailproxy.testkit.Office365.imapThrottled;
import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.testkit.core.FakeLease;
import io.mailproxy.imap.Harness;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Office 365's "Request is throttled. Suggested Backoff Time: N milliseconds" (tagged BAD or NO): a command that is
 * safe to send again, alone upstream, is sent again after the wait and the client sees only its final result; any
 * other gets {@code NO [UNAVAILABLE]} with the server's text. Time is the client channel's (embedded) clock.
 */
class ThrottledCommandTest {

    private static final String THROTTLED_12S = "NO [UNAVAILABLE] Request is throttled. Suggested Backoff Time: "
            + "12000 milliseconds\r\n";

    private final Harness h = new Harness();

    @AfterEach
    void close() {
        h.close();
    }

    private FakeLease login() {
        return h.loggedIn(ClientConfig.ImapPolicy.DEFAULT, "IMAP4REV1", "LITERAL+", "IDLE");
    }

    private void advance(long seconds) {
        h.client.advanceTimeBy(seconds, TimeUnit.SECONDS);
        h.client.runScheduledPendingTasks();
        h.settle();
    }

    @Test
    void aThrottledUidFetchIsSentAgainAfterTheBackoffAndTheClientSeesOnlyTheFinalResult() {
        FakeLease lease = login();
        h.send("f1 UID FETCH 1:* (FLAGS)\r\n");
        assertThat(h.upstreamGot()).isEqualTo("f1 UID FETCH 1:* (FLAGS)\r\n");
        h.reply(imapThrottled("f1", "BAD", 12_000));
        assertThat(h.received()).as("nothing of the throttled reply").isEmpty();
        assertThat(lease.throttled).as("the account's pool is told").containsExactly(Duration.ofMillis(12_000));

        h.send("n1 NOOP\r\n");
        advance(11);
        assertThat(h.upstreamGot()).as("the command keeps its place: nothing goes up while waiting").isEmpty();
        assertThat(h.received()).isEmpty();

        advance(1);
        assertThat(h.upstreamGot()).isEqualTo("f1 UID FETCH 1:* (FLAGS)\r\nn1 NOOP\r\n");
        h.reply("* 1 FETCH (UID 7 FLAGS (\\Seen))\r\nf1 OK FETCH completed.\r\nn1 OK NOOP completed.\r\n");
        assertThat(h.received()).isEqualTo("* 1 FETCH (UID 7 FLAGS (\\Seen))\r\nf1 OK FETCH completed.\r\n"
                + "n1 OK NOOP completed.\r\n");
    }

    @Test
    void aThrottledReadAnsweredNoIsSentAgainToo() {
        login();
        h.send("s1 SELECT INBOX\r\n");
        h.upstreamGot();
        h.reply(imapThrottled("s1", "NO", 15_000));
        advance(15);
        assertThat(h.upstreamGot()).isEqualTo("s1 SELECT INBOX\r\n");
        h.reply("* 3 EXISTS\r\ns1 OK [READ-WRITE] SELECT completed.\r\n");
        assertThat(h.received()).isEqualTo("* 3 EXISTS\r\ns1 OK [READ-WRITE] SELECT completed.\r\n");
    }

    @Test
    void aSelectTheReadOnlyPolicySendsAsExamineIsSentAgainAsExamine() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, List.of()), "IMAP4REV1", "LITERAL+");
        h.send("s1 SELECT INBOX\r\n");
        assertThat(h.upstreamGot()).isEqualTo("s1 EXAMINE INBOX\r\n");
        h.reply(imapThrottled("s1", "BAD", 12_000));
        advance(12);
        assertThat(h.upstreamGot()).isEqualTo("s1 EXAMINE INBOX\r\n");
        h.reply("* 2 EXISTS\r\ns1 OK [READ-ONLY] EXAMINE completed.\r\n");
        assertThat(h.received()).isEqualTo("* 2 EXISTS\r\ns1 OK [READ-ONLY] SELECT completed.\r\n");
    }

    @Test
    void aUidStoreAnsweredNoMayHaveRunAndIsNotSentAgain() {
        login();
        h.send("s1 UID STORE 7 +FLAGS (\\Seen)\r\n");
        h.upstreamGot();
        h.reply(imapThrottled("s1", "NO", 12_000));
        assertThat(h.received()).isEqualTo("s1 " + THROTTLED_12S);
        advance(60);
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void aThrottledUidStoreAnsweredBadIsSentAgain() {
        login();
        h.send("s1 UID STORE 7 +FLAGS (\\Seen)\r\n");
        h.upstreamGot();
        h.reply(imapThrottled("s1", "BAD", 12_000));
        advance(12);
        assertThat(h.upstreamGot()).isEqualTo("s1 UID STORE 7 +FLAGS (\\Seen)\r\n");
    }

    @Test
    void aThrottledAppendIsAnsweredNoUnavailableAndNotSentAgain() {
        FakeLease lease = login();
        h.send("p1 APPEND INBOX {5+}\r\nhello\r\n");
        assertThat(h.upstreamGot()).isEqualTo("p1 APPEND INBOX {5+}\r\nhello\r\n");
        // imapsync #198: "1069 NO Request is throttled. Suggested Backoff Time: 299609 milliseconds" on APPEND
        h.reply(imapThrottled("p1", "NO", 12_000));
        assertThat(h.received()).isEqualTo("p1 " + THROTTLED_12S);
        advance(60);
        assertThat(h.upstreamGot()).as("the upstream saw the command once").isEmpty();
        assertThat(lease.throttled).containsExactly(Duration.ofMillis(12_000));
    }

    @Test
    void aThrottledCopyOrExpungeIsAnsweredNoUnavailableAndNotSentAgain() {
        login();
        h.send("c1 UID COPY 7 Archive\r\n");
        h.upstreamGot();
        h.reply(imapThrottled("c1", "BAD", 12_000));
        assertThat(h.received()).isEqualTo("c1 " + THROTTLED_12S);
        h.send("e1 EXPUNGE\r\n");
        assertThat(h.upstreamGot()).isEqualTo("e1 EXPUNGE\r\n");
        h.reply(imapThrottled("e1", "BAD", 12_000));
        assertThat(h.received()).isEqualTo("e1 " + THROTTLED_12S);
        advance(60);
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void aSequenceNumberFetchWithALaterCommandInFlightIsNotSentAgain() {
        login();
        h.send("f1 FETCH 1 (FLAGS)\r\nn2 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("f1 FETCH 1 (FLAGS)\r\nn2 NOOP\r\n");
        h.reply(imapThrottled("f1", "BAD", 12_000));
        assertThat(h.received()).isEqualTo("f1 " + THROTTLED_12S);
        h.reply("n2 OK NOOP completed.\r\n");
        assertThat(h.received()).isEqualTo("n2 OK NOOP completed.\r\n");
        advance(60);
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void aBackoffOverTheCapIsAnsweredAtOnce() {
        FakeLease lease = login();
        h.send("f1 UID FETCH 1:* (FLAGS)\r\n");
        h.upstreamGot();
        // imapsync FAQ.Office365.txt
        h.reply(imapThrottled("f1", "BAD", 178_755));
        assertThat(h.received()).isEqualTo("f1 NO [UNAVAILABLE] Request is throttled. Suggested Backoff Time: "
                + "178755 milliseconds\r\n");
        assertThat(lease.throttled).containsExactly(Duration.ofMillis(178_755));
        h.send("n1 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("n1 NOOP\r\n");
    }

    @Test
    void aCommandIsSentAgainAtMostTwice() {
        login();
        h.send("f1 UID FETCH 7 (FLAGS)\r\n");
        h.upstreamGot();
        for (int i = 0; i < 2; i++) {
            h.reply(imapThrottled("f1", "BAD", 12_000));
            advance(12);
            assertThat(h.upstreamGot()).isEqualTo("f1 UID FETCH 7 (FLAGS)\r\n");
        }
        h.reply(imapThrottled("f1", "BAD", 12_000));
        assertThat(h.received()).isEqualTo("f1 " + THROTTLED_12S);
        advance(60);
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void aLongCommandIsNotKeptToBeSentAgain() {
        login();
        StringBuilder set = new StringBuilder("1");
        for (int i = 2; set.length() < 9000; i += 2) {
            set.append(',').append(i);
        }
        h.send("f1 UID FETCH " + set + " (FLAGS)\r\n");
        h.upstreamGot();
        h.reply(imapThrottled("f1", "BAD", 12_000));
        assertThat(h.received()).isEqualTo("f1 " + THROTTLED_12S);
        advance(60);
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void anUpstreamByeWhileWaitingAnswersTheCommandBeforeTheGoodbye() {
        FakeLease lease = login();
        h.send("f1 UID FETCH 7 (FLAGS)\r\n");
        h.upstreamGot();
        // email-oauth2-proxy #191: the throttling reply, then the upstream says goodbye
        h.reply(imapThrottled("f1", "BAD", 12_000) + "* BYE Connection closed. 14\r\n");
        assertThat(h.received()).isEqualTo("f1 " + THROTTLED_12S
                + "* BYE [UNAVAILABLE] Connection to the mail server was lost, please reconnect\r\n");
        assertThat(lease.endings).containsExactly("discard");
        advance(60);
        assertThat(h.upstreamGot()).isEmpty();
    }
}
