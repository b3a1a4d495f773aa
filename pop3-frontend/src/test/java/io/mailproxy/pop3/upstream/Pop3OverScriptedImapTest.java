package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.pop3.testing.Pop3Client;
import io.mailproxy.pop3.testing.ProxyServer;
import io.mailproxy.pop3.testing.ScriptedImapServer;
import io.mailproxy.testkit.core.FakeCore;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** source = imap against a scripted server: Office 365's shapes of reply that GreenMail does not produce. */
class Pop3OverScriptedImapTest {

    private ScriptedImapServer imap;
    private ProxyServer proxy;

    @BeforeEach
    void start() throws Exception {
        imap = new ScriptedImapServer()
                .on("CAPABILITY", "* CAPABILITY IMAP4 IMAP4rev1 AUTH=XOAUTH2 SASL-IR UIDPLUS MOVE ID UNSELECT "
                        + "CHILDREN IDLE NAMESPACE LITERAL+", "$TAG OK CAPABILITY completed.")
                .on("LIST \"\" \"\\*\"",
                        "* LIST (\\HasNoChildren) \"/\" Archiv",
                        "* LIST (\\HasNoChildren \\Trash) \"/\" \"Gel&APY-schte Elemente\"",
                        "* LIST (\\Marked \\HasNoChildren \\Sent) \"/\" \"Gesendete Elemente\"",
                        "* LIST (\\HasNoChildren) \"/\" INBOX",
                        "$TAG OK LIST completed.")
                .on("(SELECT|EXAMINE) \"INBOX\"", "* 2 EXISTS", "* 0 RECENT",
                        "* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $MDNSent)",
                        "* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $MDNSent)] Permanent flags",
                        "* OK [UIDVALIDITY 14] UIDVALIDITY value", "* OK [UIDNEXT 32] The next unique identifier value",
                        "$TAG OK [READ-WRITE] SELECT completed.")
                .on("UID SEARCH ALL", "* SEARCH 30 31", "$TAG OK SEARCH completed.")
                .on("UID FETCH 1:\\* \\(UID RFC822.SIZE\\)", "* 1 FETCH (UID 30 RFC822.SIZE 2000)",
                        "* 2 FETCH (UID 31 RFC822.SIZE 3000)", "$TAG OK FETCH completed.")
                .on("UID FETCH 30 \\(BODY.PEEK\\[\\]\\)", "* 1 FETCH (UID 30 BODY[] {14}", "Subject: x\r\n\r\n)",
                        "$TAG OK FETCH completed.");
        proxy = new ProxyServer(imap.port(), "acct@example.com", "pw");
    }

    @AfterEach
    void stop() throws Exception {
        proxy.close();
        imap.close();
    }

    private Pop3Client login(String onDelete) throws Exception {
        proxy.core.client("alice", "secret", new Pop3Policy(Pop3Policy.Source.IMAP, "INBOX", false, OnDelete.parse(onDelete)));
        Pop3Client c = new Pop3Client(proxy.port());
        c.line();
        c.command("USER alice");
        return c;
    }

    @Test
    void trashResolvesToTheLocalisedSpecialUseFolder() throws Exception {
        try (Pop3Client c = login("move:\\Trash")) {
            assertThat(c.command("PASS secret")).isEqualTo("+OK maildrop has 2 messages (5000 octets)");
            assertThat(c.command("UIDL")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo("1 14.30\r\n2 14.31\r\n");
            assertThat(c.command("DELE 2")).startsWith("+OK");
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off (1 messages moved)");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> imap.commands.contains("UID MOVE 31 \"Gel&APY-schte Elemente\""));
        assertThat(imap.commands).noneMatch(cmd -> cmd.contains("EXPUNGE"));
    }

    @Test
    void upstreamDropMidSessionIsSysTempAndTheLeaseIsDiscarded() throws Exception {
        imap.on("UID FETCH 31 \\(BODY.PEEK\\[\\]\\)", ScriptedImapServer.CLOSE);
        try (Pop3Client c = login("expunge")) {
            c.command("PASS secret");
            assertThat(c.command("RETR 1")).isEqualTo("+OK 14 octets");
            assertThat(c.bodyText()).isEqualTo("Subject: x\r\n\r\n");
            assertThat(c.command("DELE 1")).startsWith("+OK");
            assertThat(c.command("RETR 2"))
                    .isEqualTo("-ERR [SYS/TEMP] Lost the connection to the mail server, try again later");
            assertThat(c.closedByServer()).isTrue();
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.size() == 1);
        assertThat(proxy.leaseEnds).containsExactly("discard");
        assertThat(imap.commands).noneMatch(cmd -> cmd.contains("STORE") || cmd.contains("EXPUNGE"));
    }

    @Test
    void tokenExpiryByeEndsTheSessionWithSysTemp() throws Exception {
        imap.on("UID FETCH 31 \\(BODY.PEEK\\[\\]\\)", "* BYE Session invalidated - AccessTokenExpired",
                ScriptedImapServer.CLOSE);
        try (Pop3Client c = login("keep")) {
            c.command("PASS secret");
            assertThat(c.command("RETR 2"))
                    .isEqualTo("-ERR [SYS/TEMP] Lost the connection to the mail server, try again later");
        }
    }

    @Test
    void failingUpdateSaysSomeMessagesWereNotRemoved() throws Exception {
        imap.on("UID STORE .*", "$TAG NO [ALERT] Mailbox is read-only");
        try (Pop3Client c = login("seen")) {
            c.command("PASS secret");
            c.command("DELE 1");
            assertThat(c.command("QUIT")).isEqualTo("-ERR [SYS/TEMP] Some deleted messages not removed");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.size() == 1);
        assertThat(proxy.leaseEnds).containsExactly("discard");
    }

    @Test
    void upstreamEndedBetweenCommandsIsHandedOverAtTheNextCommand() throws Exception {
        try (Pop3Client c = login("expunge")) {
            c.command("PASS secret");
            assertThat(c.command("DELE 2")).startsWith("+OK");
            imap.dropAll("* BYE Session invalidated - AccessTokenExpired");
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.contains("discard"));
            assertThat(c.command("UIDL 1")).isEqualTo("+OK 1 14.30");
            assertThat(c.command("RETR 1")).isEqualTo("+OK 14 octets");
            assertThat(c.bodyText()).isEqualTo("Subject: x\r\n\r\n");
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off (1 messages deleted)");
        }
        assertThat(imap.commands.stream().filter(cmd -> cmd.startsWith("LOGIN"))).hasSize(2);
        assertThat(imap.commands).containsSubsequence("SELECT \"INBOX\"", "SELECT \"INBOX\"",
                "UID FETCH 30 (BODY.PEEK[])", "UID STORE 31 +FLAGS.SILENT (\\Deleted)", "UID EXPUNGE 31");
    }

    @Test
    void handOverRefusesAFolderWhoseUidValidityChanged() throws Exception {
        try (Pop3Client c = login("keep")) {
            c.command("PASS secret");
            imap.dropAll("* BYE Session invalidated - AccessTokenExpired");
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.contains("discard"));
            imap.on("(SELECT|EXAMINE) \"INBOX\"", "* OK [UIDVALIDITY 99] changed", "$TAG OK [READ-ONLY] done");
            assertThat(c.command("RETR 1"))
                    .isEqualTo("-ERR [SYS/TEMP] Lost the connection to the mail server, try again later");
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(imap.commands).doesNotContain("UID FETCH 30 (BODY.PEEK[])");
    }

    @Test
    void tokenAboutToExpireIsHandedOverBeforeTheCommand() throws Exception {
        proxy.tokenLifetime = Duration.ofSeconds(30);
        try (Pop3Client c = login("keep")) {
            c.command("PASS secret");
            assertThat(c.command("RETR 1")).isEqualTo("+OK 14 octets");
            c.body();
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.size() == 2);
        assertThat(proxy.leaseEnds).containsExactly("release", "release");
        assertThat(imap.commands.stream().filter(cmd -> cmd.startsWith("LOGIN"))).hasSize(2);
    }

    /**
     * Issue 13 item 4: a message another client removed after the listing. Dovecot answers {@code BODY[] NIL} with
     * {@code [EXPUNGEISSUED]}, Office 365 a plain OK without a FETCH, RFC 2180 allows a NO: each is a plain -ERR (no
     * [SYS/TEMP]: retrying cannot bring it back), never "+OK 0 octets", and the session goes on.
     */
    @ParameterizedTest(name = "{0} / {1}")
    @CsvSource(delimiter = '|', value = {
            "BODY[%s] NIL|$TAG NO [EXPUNGEISSUED] Some of the requested messages no longer exist",
            "BODY[%s] NIL|$TAG OK [EXPUNGEISSUED] Some messages were already expunged",
            "BODY[%s] NIL|$TAG OK Fetch completed.",
            "BODY[%s] \"\"|$TAG OK [EXPUNGEISSUED] Some messages were already expunged",
            "|$TAG OK FETCH completed.",
            "|$TAG OK [EXPUNGEISSUED] Some messages were already expunged",
            "|$TAG NO Some of the requested messages no longer exist"})
    void aMessageRemovedUpstreamIsAPlainErrAndTheSessionGoesOn(String fetch, String tagged) throws Exception {
        for (String section : new String[] {"", "HEADER"}) {
            String regex = "UID FETCH 31 \\(BODY.PEEK\\[" + section + "\\]\\)";
            if (fetch == null) {
                imap.on(regex, tagged);
            } else {
                imap.on(regex, "* 2 FETCH (UID 31 " + fetch.formatted(section) + ")", tagged);
            }
        }
        try (Pop3Client c = login("expunge")) {
            c.command("PASS secret");
            assertThat(c.command("RETR 2")).isEqualTo("-ERR Message 2 no longer exists (removed by another client)");
            assertThat(c.command("TOP 2 5")).isEqualTo("-ERR Message 2 no longer exists (removed by another client)");
            assertThat(c.command("RETR 1")).isEqualTo("+OK 14 octets");
            assertThat(c.bodyText()).isEqualTo("Subject: x\r\n\r\n");
            assertThat(c.command("DELE 2")).startsWith("+OK");
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off (1 messages deleted)");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.size() == 1);
        assertThat(proxy.leaseEnds).containsExactly("release");
    }

    /** An empty message is still "+OK 0 octets" and "." (RETR), and an empty top (TOP). */
    @ParameterizedTest
    @ValueSource(strings = {"\"\")", "{0}\r\n)"})
    void aRealEmptyMessageIsStillServed(String empty) throws Exception {
        imap.on("UID FETCH 31 \\(BODY.PEEK\\[\\]\\)", "* 2 FETCH (UID 31 BODY[] " + empty, "$TAG OK FETCH completed.");
        imap.on("UID FETCH 31 \\(BODY.PEEK\\[HEADER\\]\\)", "* 2 FETCH (UID 31 BODY[HEADER] " + empty,
                "$TAG OK FETCH completed.");
        imap.on("UID FETCH 31 \\(BODY.PEEK\\[TEXT\\].*", "* 2 FETCH (UID 31 BODY[TEXT]<0> " + empty,
                "$TAG OK FETCH completed.");
        try (Pop3Client c = login("keep")) {
            c.command("PASS secret");
            assertThat(c.command("RETR 2")).isEqualTo("+OK 0 octets");
            assertThat(c.bodyText()).isEmpty();
            assertThat(c.command("TOP 2 3")).isEqualTo("+OK top of message follows");
            assertThat(c.bodyText()).isEmpty();
            assertThat(c.command("NOOP")).isEqualTo("+OK");
        }
    }

    /** Office 365's throttling BAD means the command did not run: the message is not gone, the client may retry. */
    @Test
    void aThrottledFetchIsSysTempNotRemoved() throws Exception {
        imap.on("UID FETCH 31 \\(BODY.PEEK\\[\\]\\)", "$TAG BAD Request is throttled. Suggested Backoff Time: 100 milliseconds");
        try (Pop3Client c = login("keep")) {
            c.command("PASS secret");
            assertThat(c.command("RETR 2"))
                    .isEqualTo("-ERR [SYS/TEMP] The mail server did not send message 2, try again later");
            assertThat(c.command("RETR 1")).isEqualTo("+OK 14 octets");
            c.body();
        }
    }
}
