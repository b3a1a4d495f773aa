package io.mailproxy.imap.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.imap.Harness;
import io.mailproxy.testkit.core.FakeLease;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ImapRelayTest {

    private final Harness h = new Harness();

    @AfterEach
    void close() {
        h.close();
    }

    private FakeLease login(String... caps) {
        return h.loggedIn(ClientConfig.ImapPolicy.DEFAULT, caps.length == 0 ? new String[] {"IMAP4REV1", "LITERAL+", "IDLE"} : caps);
    }

    @Test
    void relaysCommandsAndResponsesByteForByte() {
        login();
        h.send("a2 SELECT INBOX\r\n");
        assertThat(h.upstreamGot()).isEqualTo("a2 SELECT INBOX\r\n");
        String select = "* 3 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 14] UIDs valid\r\n* FLAGS (\\Seen \\Deleted)\r\n"
                + "a2 OK [READ-WRITE] SELECT completed.\r\n";
        h.reply(select);
        assertThat(h.received()).isEqualTo(select);
    }

    @Test
    void fetchLiteralsAreRelayedExactly() {
        login();
        byte[] body = new byte[300_000];
        new Random(7).nextBytes(body);
        h.send("f1 UID FETCH 9 BODY.PEEK[]\r\n");
        assertThat(h.upstreamGot()).isEqualTo("f1 UID FETCH 9 BODY.PEEK[]\r\n");
        ByteArrayOutputStream upstream = new ByteArrayOutputStream();
        upstream.writeBytes(("* 1 FETCH (UID 9 BODY[] {" + body.length + "}\r\n").getBytes(StandardCharsets.US_ASCII));
        upstream.writeBytes(body);
        upstream.writeBytes(")\r\nf1 OK FETCH completed\r\n".getBytes(StandardCharsets.US_ASCII));
        byte[] all = upstream.toByteArray();
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        for (int at = 0; at < all.length; at += 65_536) {
            h.reply(java.util.Arrays.copyOfRange(all, at, Math.min(all.length, at + 65_536)));
            got.writeBytes(h.receivedBytes());
        }
        assertThat(got.toByteArray()).isEqualTo(all);
    }

    @Test
    void appendLiteralIsStreamedAsLiteralPlus() {
        login();
        h.send("p1 APPEND INBOX (\\Seen) {200000}\r\n");
        assertThat(h.received()).isEqualTo("+ Ready for literal data\r\n");
        assertThat(h.upstreamGot()).isEqualTo("p1 APPEND INBOX (\\Seen) {200000+}\r\n");
        byte[] msg = new byte[200_000];
        java.util.Arrays.fill(msg, (byte) 'm');
        h.send(java.util.Arrays.copyOfRange(msg, 0, 100_000));
        assertThat(h.upstreamGot()).hasSize(100_000);
        h.send(java.util.Arrays.copyOfRange(msg, 100_000, 200_000));
        h.send("\r\n");
        assertThat(h.upstreamGot()).hasSize(100_002);
        h.reply("p1 OK [APPENDUID 14 77] APPEND completed\r\n");
        assertThat(h.received()).isEqualTo("p1 OK [APPENDUID 14 77] APPEND completed\r\n");
    }

    @Test
    void smallSynchronizingLiteralWaitsForUpstreamWithoutLiteralPlus() {
        login("IMAP4REV1");
        h.send("s1 SELECT {5}\r\n");
        assertThat(h.received()).isEqualTo("+ Ready for literal data\r\n");
        assertThat(h.upstreamGot()).isEmpty();
        h.send("INBOX\r\n");
        assertThat(h.upstreamGot()).isEqualTo("s1 SELECT {5}\r\n");
        h.reply("+ go ahead\r\n");
        assertThat(h.upstreamGot()).isEqualTo("INBOX\r\n");
        assertThat(h.received()).as("the upstream's continuation is not relayed").isEmpty();
        h.reply("s1 OK SELECT completed\r\n");
        assertThat(h.received()).isEqualTo("s1 OK SELECT completed\r\n");
    }

    @Test
    void logoutIsAnsweredHereAndTheLeaseReleasedClean() {
        FakeLease lease = login();
        h.send("a2 NOOP\r\n");
        h.upstreamGot();
        h.send("a3 LOGOUT\r\n");
        assertThat(h.received()).as("waits for the command in flight").isEmpty();
        h.reply("a2 OK NOOP completed\r\n");
        assertThat(h.received()).isEqualTo("a2 OK NOOP completed\r\n* BYE Logging out\r\na3 OK LOGOUT completed\r\n");
        assertThat(h.upstreamGot()).isEmpty();
        assertThat(lease.endings).containsExactly("release(clean)");
        assertThat(lease.handlersAtEnd).doesNotContain(ImapRelay.UPSTREAM_DECODER, ImapRelay.UPSTREAM_HANDLER);
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void enableMakesTheLeaseDirty() {
        FakeLease lease = login();
        h.send("e1 ENABLE CONDSTORE\r\n");
        h.reply("* ENABLED CONDSTORE\r\ne1 OK ENABLE completed\r\n");
        h.send("e2 LOGOUT\r\n");
        assertThat(h.received()).endsWith("e2 OK LOGOUT completed\r\n");
        assertThat(lease.endings).containsExactly("release(dirty)");
    }

    @Test
    void condstoreMakesTheLeaseDirty() {
        FakeLease lease = login();
        h.send("f1 FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n");
        h.reply("f1 OK done\r\n");
        h.send("f2 LOGOUT\r\n");
        assertThat(lease.endings).containsExactly("release(dirty)");
    }

    @Test
    void clientKilledMidFetchDiscardsTheLease() {
        FakeLease lease = login();
        h.send("f1 FETCH 1 BODY[]\r\n");
        h.reply("* 1 FETCH (BODY[] {1000}\r\n" + "x".repeat(500));
        h.client.close();
        h.settle();
        assertThat(lease.endings).containsExactly("discard");
    }

    @Test
    void clientGoneWhileIdleReleasesTheLease() {
        FakeLease lease = login();
        h.send("n1 NOOP\r\n");
        h.reply("n1 OK done\r\n");
        h.client.close();
        h.settle();
        assertThat(lease.endings).containsExactly("release(clean)");
    }

    @Test
    void upstreamDropSaysByeUnavailable() {
        FakeLease lease = login();
        h.send("n1 NOOP\r\n");
        h.upstream.close();
        h.settle();
        assertThat(h.received()).isEqualTo("* BYE [UNAVAILABLE] Connection to the mail server was lost, please reconnect\r\n");
        assertThat(h.client.isOpen()).isFalse();
        assertThat(lease.endings).containsExactly("discard");
    }

    @Test
    void upstreamTokenExpiryByeBecomesByeUnavailable() {
        FakeLease lease = login();
        h.reply("* BYE Session invalidated - AccessTokenExpired\r\n");
        assertThat(h.received()).as("between commands: a recovery is tried first").isEmpty();
        assertThat(lease.tokenRejected).isTrue();
        for (int wait : new int[] {1, 2, 4}) { // no fresh connection in recovery-attempts (4) tries, 1+2+4 s apart
            h.client.advanceTimeBy(wait, TimeUnit.SECONDS);
            h.client.runScheduledPendingTasks();
        }
        assertThat(h.received()).isEqualTo("* BYE [UNAVAILABLE] Connection to the mail server was lost, please reconnect\r\n");
        assertThat(lease.endings).containsExactly("discard");
    }

    @Test
    void idleAndDone() {
        login();
        h.send("i1 IDLE\r\n");
        assertThat(h.upstreamGot()).isEqualTo("i1 IDLE\r\n");
        h.reply("+ idling\r\n");
        assertThat(h.received()).isEqualTo("+ idling\r\n");
        h.reply("* 4 EXISTS\r\n");
        assertThat(h.received()).isEqualTo("* 4 EXISTS\r\n");
        h.client.advanceTimeBy(31, TimeUnit.MINUTES);
        h.client.runScheduledPendingTasks();
        assertThat(h.client.isOpen()).as("no idle timeout in IDLE").isTrue();
        h.send("DONE\r\n");
        assertThat(h.upstreamGot()).isEqualTo("DONE\r\n");
        h.reply("i1 OK IDLE terminated\r\n");
        assertThat(h.received()).isEqualTo("i1 OK IDLE terminated\r\n");
    }

    @Test
    void aCommandWithoutOneByteFromTheUpstreamForTheIdleTimeoutEndsTheSession() {
        FakeLease lease = login();
        h.send("s1 SEARCH ALL\r\n");
        assertThat(h.upstreamGot()).isEqualTo("s1 SEARCH ALL\r\n");
        h.client.advanceTimeBy(20, TimeUnit.MINUTES);
        h.client.runScheduledPendingTasks();
        h.reply("* OK still working\r\n"); // progress: the clock starts again
        h.received();
        h.client.advanceTimeBy(29, TimeUnit.MINUTES);
        h.client.runScheduledPendingTasks();
        assertThat(h.client.isOpen()).isTrue();
        h.client.advanceTimeBy(32, TimeUnit.MINUTES);
        h.client.runScheduledPendingTasks();
        assertThat(h.received()).startsWith("* BYE [UNAVAILABLE]");
        assertThat(h.client.isOpen()).isFalse();
        assertThat(lease.endings).containsExactly("discard");
    }

    @Test
    void idleTimeoutLogsOutAndReleases() {
        FakeLease lease = login();
        h.client.advanceTimeBy(29, TimeUnit.MINUTES);
        h.client.runScheduledPendingTasks();
        assertThat(h.client.isOpen()).isTrue();
        h.client.advanceTimeBy(2, TimeUnit.MINUTES);
        h.client.runScheduledPendingTasks();
        assertThat(h.received()).isEqualTo("* BYE Autologout; idle for too long\r\n");
        assertThat(lease.endings).containsExactly("release(clean)");
    }

    @Test
    void commandsTheProxyCannotRelayAreRefused() {
        login();
        h.send("c1 COMPRESS DEFLATE\r\nc2 STARTTLS\r\nc3 UNAUTHENTICATE\r\nc4 LOGIN a b\r\nc5 AUTHENTICATE PLAIN\r\n");
        assertThat(h.received()).isEqualTo("c1 NO [CANNOT] COMPRESS is not available through this proxy\r\n"
                + "c2 BAD STARTTLS is only valid before login\r\n"
                + "c3 NO [CANNOT] UNAUTHENTICATE is not available through this proxy\r\n"
                + "c4 BAD Already logged in\r\nc5 BAD Already logged in\r\n");
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void capabilityResponsesAreRewritten() {
        login();
        h.send("c1 CAPABILITY\r\n");
        h.reply("* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR IDLE UNAUTHENTICATE COMPRESS=DEFLATE LITERAL+\r\nc1 OK done\r\n");
        assertThat(h.received()).isEqualTo("* CAPABILITY IMAP4rev1 IDLE LITERAL+\r\nc1 OK done\r\n");
    }

    @Test
    void shutdownWaitsForTheCommandInFlight() {
        FakeLease lease = login();
        h.send("s1 SEARCH ALL\r\n");
        h.client.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE);
        h.settle();
        assertThat(h.received()).isEmpty();
        h.reply("* SEARCH 1 2\r\ns1 OK done\r\n");
        assertThat(h.received()).isEqualTo("* SEARCH 1 2\r\ns1 OK done\r\n* BYE [UNAVAILABLE] Server shutting down\r\n");
        assertThat(lease.endings).containsExactly("release(clean)");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void overlongLineAfterLoginIsBadButTheSessionGoesOn() {
        login();
        h.send("x1 SEARCH " + "A".repeat(70_000) + "\r\nx2 NOOP\r\n");
        assertThat(h.received()).isEqualTo("x1 BAD Command line too long\r\n");
        assertThat(h.upstreamGot()).isEqualTo("x2 NOOP\r\n");
    }

    @Test
    void twentyRefusedCommandsInARowEndTheSessionButAGoodOneInBetweenResetsTheCount() {
        login();
        String longLine = "SEARCH " + "A".repeat(70_000) + "\r\n";
        for (int i = 1; i <= 19; i++) {
            h.send("r" + i + " " + longLine);
        }
        h.send("n1 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("n1 NOOP\r\n");
        h.reply("n1 OK NOOP completed\r\n");
        h.received();
        for (int i = 1; i <= 19; i++) {
            h.send("s" + i + " " + longLine);
        }
        assertThat(h.client.isOpen()).as("19 in a row since the NOOP").isTrue();
        assertThat(h.received()).endsWith("s19 BAD Command line too long\r\n");
        h.send("s20 " + longLine);
        assertThat(h.received()).isEqualTo("s20 BAD Command line too long\r\n* BYE Too many invalid commands, closing\r\n");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void aCommandAfterARefusedIdleIsJudgedByThePolicy() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, java.util.List.of()), "IMAP4REV1", "LITERAL+", "IDLE");
        h.send("a IDLE x\r\nb SELECT Secret\r\n");
        assertThat(h.upstreamGot()).as("b waits for the upstream's answer to IDLE").isEqualTo("a IDLE x\r\n");
        h.reply("a BAD IDLE takes no arguments\r\n");
        assertThat(h.received()).isEqualTo("a BAD IDLE takes no arguments\r\n");
        assertThat(h.upstreamGot()).as("read-only: SELECT becomes EXAMINE").isEqualTo("b EXAMINE Secret\r\n");
    }

    @Test
    void linesSentBeforeTheIdleContinuationWaitForIt() {
        login();
        h.send("i1 IDLE\r\ndone\r\n");
        assertThat(h.upstreamGot()).isEqualTo("i1 IDLE\r\n");
        h.reply("+ idling\r\n");
        assertThat(h.received()).isEqualTo("+ idling\r\n");
        assertThat(h.upstreamGot()).isEqualTo("done\r\n");
        h.reply("i1 OK IDLE terminated\r\n");
        assertThat(h.received()).isEqualTo("i1 OK IDLE terminated\r\n");
        h.send("n1 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("n1 NOOP\r\n");
    }

    @Test
    void anythingButDoneWhileIdlingIsBadAndCloses() {
        FakeLease lease = login();
        h.send("i1 IDLE\r\n");
        h.reply("+ idling\r\n");
        h.received();
        h.upstreamGot();
        h.send("b STORE 1 +FLAGS (\\Deleted)\r\n");
        assertThat(h.upstreamGot()).isEmpty();
        assertThat(h.received()).isEqualTo("* BAD Expected DONE\r\n* BYE Protocol error, closing\r\n");
        assertThat(h.client.isOpen()).isFalse();
        assertThat(lease.endings).containsExactly("discard");
    }

    @Test
    void aRefusalIsNotWrittenIntoTheMiddleOfAnUpstreamResponse() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, java.util.List.of()), "IMAP4REV1", "LITERAL+");
        h.send("a1 UID FETCH 5 BODY[]\r\n");
        assertThat(h.upstreamGot()).isEqualTo("a1 UID FETCH 5 BODY[]\r\n");
        h.reply("* 1 FETCH (UID 5 BODY[] {20}\r\n0123456789");
        assertThat(h.received()).isEqualTo("* 1 FETCH (UID 5 BODY[] {20}\r\n0123456789");
        h.send("a2 UID STORE 5 +FLAGS (\\Deleted)\r\n");
        assertThat(h.received()).as("nothing of the proxy's own inside the literal").isEmpty();
        h.reply("abcdefghij)\r\n");
        assertThat(h.received()).isEqualTo("abcdefghij)\r\na2 NO [NOPERM] This client has read-only access\r\n");
        h.reply("a1 OK UID FETCH completed\r\n");
        assertThat(h.received()).isEqualTo("a1 OK UID FETCH completed\r\n");
    }

    @Test
    void theProxysContinuationIsNotWrittenIntoTheMiddleOfAnUpstreamResponse() {
        login();
        h.send("a1 FETCH 1 BODY[]\r\n");
        h.upstreamGot();
        h.reply("* 1 FETCH (BODY[] {10}\r\n01234");
        assertThat(h.received()).isEqualTo("* 1 FETCH (BODY[] {10}\r\n01234");
        h.send("a2 SELECT {5}\r\n");
        assertThat(h.received()).isEmpty();
        h.reply("56789)\r\n");
        assertThat(h.received()).isEqualTo("56789)\r\n+ Ready for literal data\r\n");
    }

    @Test
    void aClientsLiteralPlusIsSynchronizingToAnUpstreamWithoutIt() {
        login("IMAP4REV1");
        h.send("p1 APPEND INBOX {5+}\r\nhello\r\n");
        assertThat(h.received()).isEmpty();
        assertThat(h.upstreamGot()).isEqualTo("p1 APPEND INBOX {5}\r\n");
        h.reply("+ go ahead\r\n");
        assertThat(h.upstreamGot()).isEqualTo("hello\r\n");
        assertThat(h.received()).isEmpty();
        h.reply("p1 OK APPEND completed\r\n");
        assertThat(h.received()).isEqualTo("p1 OK APPEND completed\r\n");
    }

    @Test
    void aLargeLiteralPlusWaitsForTheContinuationOfAnUpstreamWithoutIt() {
        login("IMAP4REV1");
        byte[] msg = new byte[200_000];
        java.util.Arrays.fill(msg, (byte) 'm');
        h.send("p1 APPEND INBOX {200000+}\r\n");
        h.send(msg);
        assertThat(h.upstreamGot()).isEqualTo("p1 APPEND INBOX {200000}\r\n");
        h.reply("+ go ahead\r\n");
        h.send("\r\n");
        assertThat(h.upstreamGot()).hasSize(200_002);
        h.reply("p1 OK APPEND completed\r\n");
        assertThat(h.received()).isEqualTo("p1 OK APPEND completed\r\n");
    }

    @Test
    void aRefusedLiteralPlusCommandIsDropped() {
        login("IMAP4REV1");
        h.send("p1 APPEND Nope {5+}\r\nhello\r\nn1 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("p1 APPEND Nope {5}\r\n");
        h.reply("p1 NO [TRYCREATE] no such mailbox\r\n");
        assertThat(h.received()).isEqualTo("p1 NO [TRYCREATE] no such mailbox\r\n");
        assertThat(h.upstreamGot()).isEqualTo("n1 NOOP\r\n");
    }

    @Test
    void aClientThatDoesNotReadIsNotReadFrom() {
        login();
        ReadCounter counter = new ReadCounter();
        h.client.pipeline().addFirst(counter);
        h.client.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
        h.send("n1 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("n1 NOOP\r\n");
        h.reply("n1 OK NOOP completed\r\n");
        assertThat(counter.reads).as("not read while its replies are not taken").isZero();
        h.client.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        h.settle();
        assertThat(counter.reads).isEqualTo(1);
        assertThat(h.received()).isEqualTo("n1 OK NOOP completed\r\n");
    }

    /** Counts the read() calls the handlers make on the client channel (AUTO_READ is off). */
    private static final class ReadCounter extends io.netty.channel.ChannelOutboundHandlerAdapter {
        int reads;

        @Override
        public void read(io.netty.channel.ChannelHandlerContext ctx) {
            reads++;
            ctx.read();
        }
    }
}
