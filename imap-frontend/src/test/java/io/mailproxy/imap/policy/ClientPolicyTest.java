package io.mailproxy.imap.policy;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.imap.policy.ClientPolicy.Verdict;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class ClientPolicyTest {

    private static final ClientPolicy READ_ONLY = ClientPolicy.of(new ClientConfig.ImapPolicy(true, List.of()));
    private static final ClientPolicy FOLDERS = ClientPolicy.of(new ClientConfig.ImapPolicy(false,
            List.of("INBOX", "Entwürfe", "Reports/*", "Sent Items")));

    private static List<ImapValue> cmd(String line) {
        byte[] b = line.getBytes(StandardCharsets.UTF_8);
        return ImapValue.parse(b, 0, b.length);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "a STORE 1 +FLAGS (\\Seen)|DENY_READ_ONLY",
            "a UID STORE 1:* +FLAGS.SILENT (\\Deleted)|DENY_READ_ONLY",
            "a COPY 1 Trash|DENY_READ_ONLY",
            "a UID COPY 1 Trash|DENY_READ_ONLY",
            "a MOVE 1 Trash|DENY_READ_ONLY",
            "a uid move 1 Trash|DENY_READ_ONLY",
            "a EXPUNGE|DENY_READ_ONLY",
            "a UID EXPUNGE 4|DENY_READ_ONLY",
            "a APPEND INBOX {3}|DENY_READ_ONLY",
            "a CREATE x|DENY_READ_ONLY",
            "a DELETE x|DENY_READ_ONLY",
            "a RENAME x y|DENY_READ_ONLY",
            "a SUBSCRIBE x|DENY_READ_ONLY",
            "a UNSUBSCRIBE x|DENY_READ_ONLY",
            "a SETACL x bob lr|DENY_READ_ONLY",
            "a SETMETADATA x (/private/comment \"c\")|DENY_READ_ONLY",
            "a SELECT INBOX|ALLOW_AS_EXAMINE",
            "a select INBOX|ALLOW_AS_EXAMINE",
            "a EXAMINE INBOX|ALLOW",
            "a FETCH 1:* (FLAGS BODY.PEEK[])|ALLOW",
            "a UID FETCH 1 BODY[]|ALLOW",
            "a UID SEARCH UNSEEN|ALLOW",
            "a LIST \"\" *|ALLOW",
            "a STATUS INBOX (MESSAGES)|ALLOW",
            "a CLOSE|ALLOW",
            "a NOOP|ALLOW",
            "x]y NOOP|ALLOW",
            "a.b SELECT Drafts|ALLOW_AS_EXAMINE",
            "\"a\" SELECT Drafts|DENY_READ_ONLY",
            "a%b SELECT Drafts|DENY_READ_ONLY",
            "+ SELECT Drafts|DENY_READ_ONLY"})
    void readOnly(String command, Verdict expected) {
        assertThat(READ_ONLY.check(cmd(command))).isEqualTo(expected);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "a SELECT INBOX|ALLOW",
            "a SELECT inbox|ALLOW",
            "a SELECT Junk|DENY_FOLDER",
            "a EXAMINE \"Sent Items\"|ALLOW",
            "a EXAMINE \"Deleted Items\"|DENY_FOLDER",
            "a SELECT Entw&APw-rfe|ALLOW",
            "a SELECT \"Entw&APw-rfe\"|ALLOW",
            "a SELECT Entw&APw-rfe2|DENY_FOLDER",
            "a STATUS Reports/2024 (MESSAGES)|ALLOW",
            "a STATUS Archive (MESSAGES)|DENY_FOLDER",
            "a APPEND \"Sent Items\" (\\Seen) {10}|ALLOW",
            "a APPEND Junk (\\Seen) {10}|DENY_FOLDER",
            "a COPY 1:3 Reports/x|ALLOW",
            "a COPY 1:3 Trash|DENY_FOLDER",
            "a MOVE 1 Trash|DENY_FOLDER",
            "a UID COPY 1 Trash|DENY_FOLDER",
            "a UID MOVE 1 INBOX|ALLOW",
            "a CREATE Reports/new|ALLOW",
            "a CREATE Other|DENY_FOLDER",
            "a DELETE Other|DENY_FOLDER",
            "a RENAME Reports/a Reports/b|ALLOW",
            "a RENAME Reports/a Other|DENY_FOLDER",
            "a RENAME Other Reports/a|DENY_FOLDER",
            "a SUBSCRIBE Other|DENY_FOLDER",
            "a UNSUBSCRIBE Other|DENY_FOLDER",
            "a GETACL Other|DENY_FOLDER",
            "a MYRIGHTS INBOX|ALLOW",
            "a GETQUOTAROOT Other|DENY_FOLDER",
            "a LIST \"\" *|ALLOW",
            "a LIST (SUBSCRIBED) \"\" * RETURN (STATUS (MESSAGES))|ALLOW",
            "a FETCH 1 BODY[]|ALLOW",
            "\"a\" SELECT INBOX|DENY_FOLDER"})
    void folders(String command, Verdict expected) {
        assertThat(FOLDERS.check(cmd(command))).isEqualTo(expected);
    }

    @Test
    void literalMailboxNamesAreChecked() {
        assertThat(FOLDERS.check(cmd("a SELECT {4}\r\nJunk"))).isEqualTo(Verdict.DENY_FOLDER);
        assertThat(FOLDERS.check(cmd("a SELECT {10}\r\nSent Items"))).isEqualTo(Verdict.ALLOW);
        assertThat(FOLDERS.check(cmd("a COPY 1 {5+}\r\nTrash"))).isEqualTo(Verdict.DENY_FOLDER);
    }

    @Test
    void listAndStatusResultsAreFiltered() {
        assertThat(FOLDERS.showResponse(cmd("LIST (\\HasNoChildren) \"/\" INBOX"))).isTrue();
        assertThat(FOLDERS.showResponse(cmd("LIST (\\HasNoChildren \\Junk) \"/\" Junk"))).isFalse();
        assertThat(FOLDERS.showResponse(cmd("LIST () \"/\" \"Entw&APw-rfe\""))).isTrue();
        assertThat(FOLDERS.showResponse(cmd("LSUB () \"/\" {10}\r\nSent Items"))).isTrue();
        assertThat(FOLDERS.showResponse(cmd("LIST () \"/\" Archive (\"CHILDINFO\" (\"SUBSCRIBED\"))"))).isFalse();
        assertThat(FOLDERS.showResponse(cmd("STATUS Archive (MESSAGES 3)"))).isFalse();
        assertThat(FOLDERS.showResponse(cmd("STATUS \"Reports/Q1\" (MESSAGES 3)"))).isTrue();
        assertThat(ClientPolicy.NONE.showResponse(cmd("LIST () \"/\" Archive"))).isTrue();
    }

    /** LIST "" "" asks for the hierarchy delimiter; its answer names no mailbox and must reach the client. */
    @Test
    void theHierarchyDelimiterIsNotFiltered() {
        assertThat(FOLDERS.showResponse(cmd("LIST (\\Noselect) \"/\" \"\""))).isTrue();
        assertThat(FOLDERS.showResponse(cmd("LIST (\\Noselect) NIL \"\""))).isTrue();
        assertThat(FOLDERS.showResponse(cmd("XLIST (\\Noselect) \"/\" \"\""))).isTrue();
        assertThat(FOLDERS.showResponse(cmd("LIST (\\Noselect) \"/\" {0}\r\n"))).isTrue();
        assertThat(FOLDERS.showResponse(cmd("STATUS \"\" (MESSAGES 3)"))).isFalse();
    }

    /**
     * CATENATE (RFC 4469) URL parts make the upstream copy a message out of the mailbox they name: with an allow-list
     * that mailbox must be allowed too (Dovecot copied a message from Trash into an allowed folder for a client that
     * may not read Trash).
     */
    @Test
    void catenateUrlsMustNameAllowedMailboxes() {
        assertThat(FOLDERS.check(cmd("a APPEND \"Sent Items\" CATENATE (URL \"/Trash;UIDVALIDITY=9/;UID=1\")")))
                .isEqualTo(Verdict.DENY_FOLDER);
        assertThat(FOLDERS.check(cmd("a APPEND INBOX (\\Seen) CATENATE (TEXT {5}\r\nhello URL "
                + "\"imap://u@h/Trash/;UID=1\")"))).isEqualTo(Verdict.DENY_FOLDER);
        assertThat(FOLDERS.check(cmd("a APPEND INBOX CATENATE (URL \"/Sent%20Items;UIDVALIDITY=9/;UID=1/;SECTION=1\""
                + " TEXT {2}\r\nhi URL \"/Reports/Q1/;UID=3\")"))).isEqualTo(Verdict.ALLOW);
        assertThat(FOLDERS.check(cmd("a APPEND INBOX CATENATE (URL \"/Entw%C3%BCrfe/;UID=3\")")))
                .as("RFC 5092: the name UTF-8, %-encoded").isEqualTo(Verdict.ALLOW);
        assertThat(FOLDERS.check(cmd("a APPEND INBOX CATENATE (URL \";UID=3\")")))
                .as("relative: not judged, refused").isEqualTo(Verdict.DENY_FOLDER);
        assertThat(FOLDERS.check(cmd("a APPEND INBOX CATENATE (URL \"/Reports/../Trash/;UID=3\")")))
                .isEqualTo(Verdict.DENY_FOLDER);
        assertThat(FOLDERS.check(cmd("a APPEND INBOX CATENATE (URL {22}\r\n/Trash;UIDVALIDITY=9/;U")))
                .as("the URL is a literal not read yet").isEqualTo(Verdict.DENY_FOLDER);
        assertThat(FOLDERS.check(cmd("a APPEND INBOX (\\Seen) {5}\r\nhello CATENATE (URL \"/Trash/;UID=1\")")))
                .as("MULTIAPPEND: a later message").isEqualTo(Verdict.DENY_FOLDER);
        assertThat(FOLDERS.check(cmd("a APPEND INBOX (\\Seen) CATENATE"), false)).isEqualTo(Verdict.DENY_FOLDER);
        assertThat(FOLDERS.check(cmd("a APPEND INBOX (\\Seen URL) {5}\r\nhello"))).isEqualTo(Verdict.ALLOW);
        assertThat(ClientPolicy.NONE.check(cmd("a APPEND INBOX CATENATE (URL \"/Trash/;UID=1\")")))
                .isEqualTo(Verdict.ALLOW);
    }

    @Test
    void appendContinuationsAreJudgedForCatenateUrls() {
        assertThat(FOLDERS.allowsAppendContinuation(cmd(" URL \"/Trash/;UID=1\")"))).isFalse();
        assertThat(FOLDERS.allowsAppendContinuation(cmd(" URL \"/INBOX/;UID=1\" TEXT {100000}"))).isTrue();
        assertThat(FOLDERS.allowsAppendContinuation(cmd(" URL {40}"))).isFalse();
        assertThat(FOLDERS.allowsAppendContinuation(cmd(" (\\Seen) CATENATE (URL \"/Trash/;UID=1\")"))).isFalse();
        assertThat(FOLDERS.allowsAppendContinuation(cmd(" (\\Seen) {300}"))).isTrue();
        assertThat(FOLDERS.allowsAppendContinuation(cmd(")"))).isTrue();
        assertThat(ClientPolicy.NONE.allowsAppendContinuation(cmd(" URL \"/Trash/;UID=1\")"))).isTrue();
    }

    @Test
    void urlMailboxes() {
        assertThat(ClientPolicy.urlMailbox("imap://joe@example.com/INBOX/;uid=20/;section=1.2")).isEqualTo("INBOX");
        assertThat(ClientPolicy.urlMailbox("/Sent%20Items;UIDVALIDITY=385759045/;UID=20")).isEqualTo("Sent Items");
        assertThat(ClientPolicy.urlMailbox("/a/b/c/;UID=1")).isEqualTo("a/b/c");
        assertThat(ClientPolicy.urlMailbox("/%ZZ;UID=1")).isNull();
        assertThat(ClientPolicy.urlMailbox(";UID=1")).isNull();
        assertThat(ClientPolicy.urlMailbox("imap://joe@example.com")).isNull();
        assertThat(ClientPolicy.urlMailbox("/;UID=1")).isNull();
    }
}
