package io.mailproxy.imap.policy;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.imap.Harness;
import io.mailproxy.testkit.core.FakeLease;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The policy as a client observes it through the relay. */
class PolicyRelayTest {

    private final Harness h = new Harness();

    @AfterEach
    void close() {
        h.close();
    }

    @Test
    void readOnlySelectBecomesExamineAndStillLooksLikeSelect() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, List.of()), "IMAP4REV1", "LITERAL+");
        h.send("s1 SELECT INBOX\r\n");
        assertThat(h.upstreamGot()).isEqualTo("s1 EXAMINE INBOX\r\n");
        h.reply("* 2 EXISTS\r\n* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\ns1 OK [READ-ONLY] EXAMINE completed.\r\n");
        assertThat(h.received()).isEqualTo(
                "* 2 EXISTS\r\n* OK [PERMANENTFLAGS ()] No permanent flags permitted\r\ns1 OK [READ-ONLY] SELECT completed.\r\n");
    }

    /** Review finding: an unclosed "[" once made the rest of the command one atom, and the policy saw nothing. */
    @Test
    void oldnamesAndOddlySpacedListsAreFilteredAndSearchResultsPass() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Archive")), "IMAP4REV1", "LITERAL+");
        h.send("n1 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("n1 NOOP\r\n");
        h.reply("* ESEARCH (TAG \"y\") UID ALL 1:5\r\n"
                + "*  LIST () \"/\" Trash\r\n"
                + "* LIST () \"/\" Archive (\"OLDNAME\" (\"Trash\"))\r\n"
                + "* LIST () \"/\" Archive (\"OLDNAME\" (\"INBOX/Old\"))\r\n"
                + "n1 OK NOOP completed\r\n");
        assertThat(h.received()).isEqualTo("* ESEARCH (TAG \"y\") UID ALL 1:5\r\nn1 OK NOOP completed\r\n");
    }

    /** Review finding: a reply for another command under the same tag must not open or drop a pending literal. */
    @Test
    void aReusedTagDoesNotConfuseAPendingLiteral() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX")), "IMAP4REV1", "LITERAL+");
        h.send("a SELECT INBOX\r\na APPEND INBOX {5+}\r\nhello\r\n");
        assertThat(h.upstreamGot()).isEqualTo("a SELECT INBOX\r\na APPEND INBOX {5}\r\n");
        h.reply("a NO no such mailbox\r\n"); // for the SELECT
        h.reply("+ go ahead\r\n"); // for the APPEND
        assertThat(h.upstreamGot()).isEqualTo("hello\r\n");
        assertThat(h.received()).isEqualTo("a NO no such mailbox\r\n");
        h.reply("a OK APPEND completed\r\n");
        assertThat(h.received()).isEqualTo("a OK APPEND completed\r\n");
    }

    @Test
    void anAllowListHidesTheCapabilitiesItRefuses() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX")), "IMAP4REV1", "LITERAL+", "NOTIFY",
                "UTF8=ACCEPT", "MULTISEARCH", "URLAUTH", "IDLE");
        h.send("c CAPABILITY\r\n");
        h.reply("* CAPABILITY IMAP4rev1 LITERAL+ NOTIFY UTF8=ACCEPT MULTISEARCH URLAUTH IDLE\r\nc OK done\r\n");
        assertThat(h.received()).isEqualTo("* CAPABILITY IMAP4rev1 LITERAL+ IDLE\r\nc OK done\r\n");
    }

    @Test
    void replaceUrlauthAndUtf8AcceptAreJudgedOrRefused() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Archive")), "IMAP4REV1", "LITERAL+");
        h.send("a1 REPLACE 1 Trash {5}\r\n");
        assertThat(h.received()).isEqualTo("+ Ready for literal data\r\n"); // small: collected, then judged
        h.send("hello\r\n");
        assertThat(h.received()).isEqualTo("a1 NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("a2 GENURLAUTH \"imap://x@h/Trash/;UID=1;urlauth=anonymous\" INTERNAL\r\n");
        assertThat(h.received()).isEqualTo("a2 NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("a3 ENABLE UTF8=ACCEPT\r\n");
        assertThat(h.received()).isEqualTo("a3 NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("a4 ESEARCH IN (mailboxes Trash) ALL\r\na5 NOTIFY SET (mailboxes Trash (MessageNew))\r\n");
        assertThat(h.received()).isEqualTo("a4 NO [NOPERM] This client may not access that mailbox\r\n"
                + "a5 NO [NOPERM] This client may not access that mailbox\r\n");
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void anOpenBracketInATagOrAFlagHidesNothingFromThePolicy() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Archive")), "IMAP4REV1", "LITERAL+");
        h.send("a[ SELECT Trash\r\n");
        assertThat(h.received()).isEqualTo("a[ NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("b[ SELECT Trash]\r\n");
        assertThat(h.received()).isEqualTo("b[ NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("c APPEND Archive (foo[) CATENATE (URL \"/Trash;UIDVALIDITY=7/;UID=1\")\r\n");
        assertThat(h.received()).isEqualTo("c NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("d APPEND Archive (BODY[) CATENATE (URL \"/Trash;UIDVALIDITY=7/;UID=1]\")\r\n");
        assertThat(h.received()).isEqualTo("d NO [NOPERM] This client may not access that mailbox\r\n");
        assertThat(h.upstreamGot()).isEmpty();
        h.send("e SELECT Archive\r\n");
        assertThat(h.upstreamGot()).isEqualTo("e SELECT Archive\r\n");
    }

    /**
     * Issue 13 item 7: the policy's parser dropped the ")" of "a)b" and judged the command "B"; an upstream that reads
     * "a)b" as the tag would have run SELECT read-write or CREATE. RFC 3501's tag grammar applies after login as it
     * does before: the command gets an untagged BAD and never reaches the upstream.
     */
    @Test
    void aTagWithAParenthesisIsRefusedAndNeverForwarded() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, List.of()), "IMAP4REV1", "LITERAL+");
        h.send("a)b SELECT Drafts\r\n");
        assertThat(h.received()).isEqualTo("* BAD Missing or invalid tag\r\n");
        h.send("a)b CREATE evil\r\n");
        assertThat(h.received()).isEqualTo("* BAD Missing or invalid tag\r\n");
        h.send("a)b APPEND Drafts {5}\r\n");
        assertThat(h.received()).as("no continuation for a refused command").isEqualTo("* BAD Missing or invalid tag\r\n");
        h.send("a)b APPEND Drafts {5+}\r\nhello\r\n(x CREATE evil\r\n\"q\" CREATE evil\r\n+ CREATE evil\r\n");
        assertThat(h.received()).isEqualTo("* BAD Missing or invalid tag\r\n".repeat(4));
        assertThat(h.upstreamGot()).isEmpty();
        h.send("n1 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("n1 NOOP\r\n");
    }

    @Test
    void anInvalidTagIsRefusedWithoutAPolicyToo() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of()), "IMAP4REV1", "LITERAL+");
        h.send("a)b CREATE evil\r\nc%d DELETE evil\r\n");
        assertThat(h.received()).isEqualTo("* BAD Missing or invalid tag\r\n* BAD Missing or invalid tag\r\n");
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void anInvalidTagPipelinedWithTheLoginIsRefusedToo() {
        h.core.client("alice", "secret", new ClientConfig.ImapPolicy(true, List.of()), io.mailproxy.core.Protocol.IMAP);
        h.core.nextLease(h.upstream, "IMAP4REV1", "LITERAL+");
        h.start();
        h.received();
        h.send("a1 LOGIN alice secret\r\na)b CREATE evil\r\n");
        assertThat(h.received()).startsWith("a1 OK ").endsWith("\r\n* BAD Missing or invalid tag\r\n");
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void ordinaryTagsStillWork() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, List.of()), "IMAP4REV1", "LITERAL+");
        h.send("A001 NOOP\r\na.b SELECT Drafts\r\n");
        assertThat(h.upstreamGot()).isEqualTo("A001 NOOP\r\na.b EXAMINE Drafts\r\n");
        h.reply("A001 OK NOOP completed\r\na.b OK [READ-ONLY] EXAMINE completed\r\n");
        assertThat(h.received()).isEqualTo("A001 OK NOOP completed\r\na.b OK [READ-ONLY] SELECT completed\r\n");
        h.send("x]y CREATE evil\r\n");
        assertThat(h.received()).isEqualTo("x]y NO [NOPERM] This client has read-only access\r\n");
        h.send("x]y LIST \"\" Drafts\r\n");
        assertThat(h.upstreamGot()).isEqualTo("x]y LIST \"\" Drafts\r\n");
    }

    @Test
    void readOnlyIsNotLiftedByAnOpenBracketOrATab() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, List.of()), "IMAP4REV1", "LITERAL+");
        h.send("w[ UID EXPUNGE 4\r\n");
        assertThat(h.received()).isEqualTo("w[ NO [NOPERM] This client has read-only access\r\n");
        h.send("s1 SELECT\tINBOX\r\n");
        assertThat(h.received()).isEqualTo("s1 NO [NOPERM] This client has read-only access\r\n");
        assertThat(h.upstreamGot()).isEmpty();
    }

    /** Review finding: a dot segment after the mailbox's ";" once let a URL into a forbidden folder. */
    @Test
    void catenateUrlsWithDotSegmentsAfterTheMailboxAreRefused() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Archive")), "IMAP4REV1", "LITERAL+");
        h.send("h APPEND Archive CATENATE (URL \"/INBOX;UIDVALIDITY=1/../Trash/;UID=1\")\r\n");
        assertThat(h.received()).isEqualTo("h NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("i APPEND Archive CATENATE (URL \"/INBOX;UIDVALIDITY=1/%2E%2E/Trash/;UID=1\")\r\n");
        assertThat(h.received()).isEqualTo("i NO [NOPERM] This client may not access that mailbox\r\n");
        assertThat(h.upstreamGot()).isEmpty();
        h.send("j APPEND Archive CATENATE (URL \"/INBOX;UIDVALIDITY=1/;UID=1/;SECTION=1.2\")\r\n");
        assertThat(h.upstreamGot()).startsWith("j APPEND Archive CATENATE");
    }

    @Test
    void readOnlyRefusesChangesWithoutTouchingTheUpstream() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, List.of()), "IMAP4REV1", "LITERAL+");
        h.send("w1 UID STORE 4 +FLAGS (\\Deleted)\r\nw2 UID EXPUNGE 4\r\nw3 UID MOVE 4 Trash\r\n");
        assertThat(h.received()).isEqualTo("w1 NO [NOPERM] This client has read-only access\r\n"
                + "w2 NO [NOPERM] This client has read-only access\r\n"
                + "w3 NO [NOPERM] This client has read-only access\r\n");
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void readOnlyAppendWithSynchronizingLiteralIsRefusedBeforeTheLiteral() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, List.of()), "IMAP4REV1", "LITERAL+");
        h.send("w1 APPEND INBOX {100000}\r\n");
        assertThat(h.received()).isEqualTo("w1 NO [NOPERM] This client has read-only access\r\n");
        h.send("w2 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("w2 NOOP\r\n");
    }

    @Test
    void appendWithLiteralPlusToForbiddenFolderIsReadAndDiscardedThenRefused() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX")), "IMAP4REV1", "LITERAL+");
        h.send("p1 APPEND Junk {100000+}\r\n");
        assertThat(h.received()).isEmpty();
        h.send("z".repeat(60_000));
        h.send("z".repeat(40_000) + "\r\n");
        assertThat(h.received()).isEqualTo("p1 NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("p2 NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("p2 NOOP\r\n");
    }

    @Test
    void forbiddenMailboxAsLiteralIsRefused() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX")), "IMAP4REV1", "LITERAL+");
        h.send("s1 SELECT {4}\r\n");
        assertThat(h.received()).isEqualTo("+ Ready for literal data\r\n");
        h.send("Junk\r\n");
        assertThat(h.received()).isEqualTo("s1 NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("s2 SELECT {5}\r\n");
        h.received();
        h.send("INBOX\r\n");
        // with a policy every literal waits for the upstream's "+", LITERAL+ or not: one the upstream does not read
        // must never reach it (it would run as a command the policy never saw)
        assertThat(h.upstreamGot()).isEqualTo("s2 SELECT {5}\r\n");
        h.reply("+ go ahead\r\n");
        assertThat(h.upstreamGot()).isEqualTo("INBOX\r\n");
    }

    @Test
    void listAndListStatusResultsAreFiltered() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Entwürfe")), "IMAP4REV1", "LITERAL+");
        h.send("l1 LIST \"\" * RETURN (STATUS (MESSAGES))\r\n");
        assertThat(h.upstreamGot()).isEqualTo("l1 LIST \"\" * RETURN (STATUS (MESSAGES))\r\n");
        h.reply("* LIST (\\HasNoChildren) \"/\" INBOX\r\n* STATUS INBOX (MESSAGES 2)\r\n"
                + "* LIST (\\HasNoChildren \\Junk) \"/\" Junk\r\n* STATUS Junk (MESSAGES 9)\r\n"
                + "* LIST (\\HasNoChildren \\Drafts) \"/\" {12}\r\nEntw&APw-rfe\r\n"
                + "* LIST () \"/\" {4}\r\nJunk\r\n"
                + "l1 OK LIST completed\r\n");
        assertThat(h.received()).isEqualTo("* LIST (\\HasNoChildren) \"/\" INBOX\r\n* STATUS INBOX (MESSAGES 2)\r\n"
                + "* LIST (\\HasNoChildren \\Drafts) \"/\" {12}\r\nEntw&APw-rfe\r\n"
                + "l1 OK LIST completed\r\n");
    }

    /**
     * offlineimap (and mutt, Thunderbird) ask LIST "" "" for the hierarchy delimiter first; with an allow-list the
     * proxy dropped Dovecot's (and Office 365's) answer {@code * LIST (\Noselect) "/" ""}, leaving only the tagged OK.
     */
    @Test
    void theHierarchyDelimiterReachesAClientWithAnAllowList() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Archive")), "IMAP4REV1", "LITERAL+");
        h.send("BILP5 LIST \"\" \"\"\r\n");
        assertThat(h.upstreamGot()).isEqualTo("BILP5 LIST \"\" \"\"\r\n");
        h.reply("* LIST (\\Noselect) \"/\" \"\"\r\nBILP5 OK List completed (0.001 + 0.000 secs).\r\n");
        assertThat(h.received())
                .isEqualTo("* LIST (\\Noselect) \"/\" \"\"\r\nBILP5 OK List completed (0.001 + 0.000 secs).\r\n");
    }

    /**
     * Found against Dovecot (which offers CATENATE): a client allowed INBOX and Archive appended to Archive a message
     * built from {@code URL "/Trash;UIDVALIDITY=…/;UID=1"}, and so copied it out of Trash.
     */
    @Test
    void catenateUrlToAForbiddenMailboxIsRefused() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Archive")), "IMAP4REV1", "LITERAL+", "CATENATE");
        h.send("b APPEND Archive CATENATE (URL \"/Trash;UIDVALIDITY=1795649884/;UID=1\")\r\n");
        assertThat(h.received()).isEqualTo("b NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("c APPEND Archive CATENATE (URL \"/INBOX;UIDVALIDITY=1795649884/;UID=1\")\r\n");
        assertThat(h.upstreamGot()).isEqualTo("c APPEND Archive CATENATE (URL \"/INBOX;UIDVALIDITY=1795649884/;UID=1\")\r\n");
    }

    /** A forbidden URL before a large TEXT part: refused before the literal, nothing sent upstream. */
    @Test
    void catenateUrlBeforeALargeLiteralIsRefusedBeforeTheLiteral() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Archive")), "IMAP4REV1", "LITERAL+", "CATENATE");
        h.send("e APPEND Archive CATENATE (URL \"/Trash;UIDVALIDITY=1/;UID=1\" TEXT {70000}\r\n");
        assertThat(h.received()).isEqualTo("e NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("f NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("f NOOP\r\n");
    }

    /** A URL part after a large TEXT part that was streamed already: the session ends, the upstream one with it. */
    @Test
    void catenateUrlAfterAStreamedLiteralEndsTheSession() {
        FakeLease lease = h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Archive")),
                "IMAP4REV1", "LITERAL+", "CATENATE");
        h.send("d APPEND Archive CATENATE (TEXT {70000}\r\n");
        assertThat(h.received()).isEqualTo("+ Ready for literal data\r\n");
        h.send("x".repeat(70_000));
        h.send(" URL \"/Trash;UIDVALIDITY=1795649884/;UID=1\")\r\n");
        h.reply("+ go ahead\r\n"); // the upstream asks for the TEXT literal
        assertThat(h.received()).isEqualTo("d NO [NOPERM] This client may not access that mailbox\r\n"
                + "* BYE Command refused, closing\r\n");
        assertThat(h.upstreamGot()).startsWith("d APPEND Archive CATENATE (TEXT {70000}\r\n").doesNotContain("Trash");
        assertThat(lease.endings).containsExactly("discard");
        assertThat(h.client.isActive()).isFalse();
    }

    @Test
    void copyToForbiddenFolderIsRefused() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX")), "IMAP4REV1", "LITERAL+");
        h.send("c1 UID COPY 1:4 \"Deleted Items\"\r\nc2 RENAME INBOX Other\r\nc3 STATUS Other (UNSEEN)\r\n");
        assertThat(h.received()).isEqualTo("c1 NO [NOPERM] This client may not access that mailbox\r\n"
                + "c2 NO [NOPERM] This client may not access that mailbox\r\n"
                + "c3 NO [NOPERM] This client may not access that mailbox\r\n");
        assertThat(h.upstreamGot()).isEmpty();
    }

    @Test
    void readOnlySelectOfAnEightBitNameKeepsItsBytes() {
        h.loggedIn(new ClientConfig.ImapPolicy(true, List.of()), "IMAP4REV1", "LITERAL+");
        h.send("s1 SELECT \"Entw\u00fcrfe\"\r\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        h.settle();
        java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
        io.netty.buffer.ByteBuf b;
        while ((b = h.upstream.readOutbound()) != null) {
            got.writeBytes(io.netty.buffer.ByteBufUtil.getBytes(b));
            b.release();
        }
        assertThat(got.toByteArray()).isEqualTo(
                "s1 EXAMINE \"Entw\u00fcrfe\"\r\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    }

    @Test
    void aMailboxInALargeLiteralCannotBeJudgedAndIsRefused() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX", "Allowed")), "IMAP4REV1", "LITERAL+");
        h.send("r1 RENAME Allowed {70000}\r\n");
        assertThat(h.received()).isEqualTo("r1 NO [NOPERM] This client may not access that mailbox\r\n");
        h.send("c1 UID COPY 1:4 {70000}\r\n");
        assertThat(h.received()).isEqualTo("c1 NO [NOPERM] This client may not access that mailbox\r\n");
        assertThat(h.upstreamGot()).isEmpty();
        h.send("a1 APPEND Allowed {70000}\r\n");
        assertThat(h.received()).as("an APPEND's mailbox comes before its message").isEqualTo("+ Ready for literal data\r\n");
        assertThat(h.upstreamGot()).isEqualTo("a1 APPEND Allowed {70000}\r\n");
    }

    /**
     * Red-team finding: a literal the upstream does not read (NOOP takes no arguments; Dovecot skips to the end of
     * the line) was sent anyway as LITERAL+, and its bytes ran upstream as a command the policy never saw.
     */
    @Test
    void aLiteralTheUpstreamDoesNotReadNeverReachesIt() {
        FakeLease lease = h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX")), "IMAP4REV1",
                "LITERAL+");
        h.send("c NOOP {16+}\r\nd SELECT Trash\r\n\r\n");
        assertThat(h.upstreamGot()).isEqualTo("c NOOP {16}\r\n");
        h.reply("c OK NOOP completed\r\n");
        assertThat(h.upstreamGot()).as("the hidden command").isEmpty();
        assertThat(h.received()).contains("c OK NOOP completed").contains("* BYE");
        assertThat(lease.endings).containsExactly("discard");
    }

    @Test
    void aLiteralRefusedByTheUpstreamIsDroppedAndThePipelinedCommandAfterItStillRuns() {
        h.loggedIn(new ClientConfig.ImapPolicy(false, List.of("INBOX")), "IMAP4REV1", "LITERAL+");
        h.send("c APPEND INBOX \"garbage\" {16+}\r\nd DELETE Trash\r\n\r\ne NOOP\r\n");
        assertThat(h.upstreamGot()).isEqualTo("c APPEND INBOX \"garbage\" {16}\r\n");
        h.reply("c BAD Invalid internal date\r\n");
        assertThat(h.upstreamGot()).isEqualTo("e NOOP\r\n");
        assertThat(h.received()).isEqualTo("c BAD Invalid internal date\r\n");
    }
}
