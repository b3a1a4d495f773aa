package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The attacks a review and a red team found on the IMAP per-client policies, replayed through the proxy against the
 * real Dovecot, whose parser is the one that counts: a client restricted to INBOX and Archive ({@code
 * folders-clients}) or read-only ({@code ro-clients}) must neither open nor change Trash. Each attack is checked
 * where it would show: at Dovecot (Trash's message still there, Archive unchanged) and in what the client is told.
 */
@ExtendWith(Interop.Extension.class)
class PolicyAttackIT {

    static final String USER = "clients@" + Interop.DOMAIN;

    Interop env;
    Proxy proxy;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        env.clear(USER);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("Trash", Messages.message(USER, USER, "in the trash", 500, 120));
        }
    }

    @Test
    void anOpenBracketInATagOrAFlagOpensNothing() throws IOException {
        try (Wire w = login(Proxy.FOLDERS_CLIENTS)) {
            w.send("a[ SELECT Trash");
            assertThat(w.until("a[ ")).as("what the client is told").contains("a[ NO [NOPERM]")
                    .doesNotContain("READ-WRITE");
            w.send("b APPEND Archive (foo[) CATENATE (URL \"/Trash;UIDVALIDITY=1/;UID=1\")");
            assertThat(w.until("b ")).contains("b NO [NOPERM]");
            w.send("c APPEND Archive CATENATE (URL \"/INBOX;UIDVALIDITY=1/../Trash/;UID=1\")");
            assertThat(w.until("c ")).contains("c NO [NOPERM]");
            w.send("d NOOP");
            assertThat(w.until("d ")).contains("d OK");
        }
        assertTrashUntouched();
    }

    @Test
    void aLiteralDovecotDoesNotReadNeverRunsThereAsACommand() throws IOException {
        try (Wire w = login(Proxy.FOLDERS_CLIENTS)) {
            w.socket.setSoTimeout(5000); // the proxy ends the session: read until it closes (or 5 s)
            w.raw("c NOOP {16+}\r\nd SELECT Trash\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String answer = new String(w.drain(1 << 16), StandardCharsets.UTF_8);
            // Dovecot completes the NOOP without asking for the literal: the proxy ends the session there
            assertThat(answer).as("what the client got").contains("c OK").contains("* BYE [UNAVAILABLE]")
                    .doesNotContain("d OK").doesNotContain("READ-WRITE");
        }
        try (Wire w = login(Proxy.READ_ONLY_CLIENTS)) {
            w.socket.setSoTimeout(5000);
            w.raw("r9 NOOP x{17+}\r\nr6 DELETE Trash\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            String answer = new String(w.drain(1 << 16), StandardCharsets.UTF_8);
            assertThat(answer).contains("* BYE [UNAVAILABLE]").doesNotContain("r6 OK");
        }
        assertTrashUntouched();
        try (Wire w = login(Proxy.FOLDERS_CLIENTS)) { // and a restricted client still works afterwards
            w.send("e SELECT INBOX");
            assertThat(w.until("e ")).contains("e OK");
        }
    }

    @Test
    void readOnlyCannotChangeAnythingThroughOddCommandWords() throws IOException {
        try (Wire w = login(Proxy.READ_ONLY_CLIENTS)) {
            w.send("s1 SELECT\tTrash");
            assertThat(w.until("s1 ")).contains("s1 NO [NOPERM]");
            w.send("s2 SELECT Trash");
            assertThat(w.until("s2 ")).as("SELECT became EXAMINE").contains("s2 OK [READ-ONLY]");
            w.send("w[ UID STORE 1 +FLAGS (\\Deleted)");
            assertThat(w.until("w[ ")).contains("w[ NO [NOPERM]");
            w.send("x EXPUNGE");
            assertThat(w.until("x ")).contains("x NO [NOPERM]");
        }
        assertTrashUntouched();
    }

    /**
     * Issue 13 item 7: the policy's parser skipped the ")" of "a)b" and judged the command word "b"; the command went
     * to Dovecot unjudged (Dovecot rejects the tag, another upstream may run it). Now the proxy answers it.
     */
    @Test
    void aTagWithAParenthesisNeverReachesDovecot() throws IOException {
        try (Wire w = login(Proxy.READ_ONLY_CLIENTS)) {
            w.send("a)b SELECT Trash");
            w.send("a)b CREATE evil");
            w.send("n NOOP");
            assertThat(w.until("n ")).as("what the client is told")
                    .startsWith("* BAD Missing or invalid tag\n* BAD Missing or invalid tag\nn OK ");
            w.send("a.b SELECT Trash");
            assertThat(w.until("a.b ")).as("an ordinary tag still works").contains("a.b OK [READ-ONLY]");
            // "]" is allowed in a tag by RFC 3501, so the proxy forwards it; Dovecot 2.3 itself refuses it ("* BAD Error
            // in IMAP tag: Invalid tag")
            w.send("x]y NOOP");
            w.send("n2 NOOP");
            assertThat(w.until("n2 ")).as("x]y went to Dovecot").contains("* BAD Error in IMAP tag")
                    .doesNotContain("Missing or invalid tag").contains("n2 OK");
        }
        try (UpstreamMailbox m = env.mailbox(USER)) {
            java.util.List<String> lines = new java.util.ArrayList<>();
            m.ok("LIST \"\" evil", lines);
            assertThat(lines).as("no folder created at Dovecot").isEmpty();
        }
        assertTrashUntouched();
    }

    private void assertTrashUntouched() throws IOException {
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("Trash")).as("Trash's message, checked at Dovecot").isEqualTo(1);
            assertThat(m.flags("Trash").values()).as("Trash's flags").allMatch(f -> !f.contains("Deleted"));
            assertThat(m.count("Archive")).as("nothing appended to Archive").isZero();
        }
    }

    private Wire login(String client) throws IOException {
        Wire w = Wire.proxy(proxy.imapPort());
        assertThat(w.line()).startsWith("* OK");
        w.send("a LOGIN " + client + " " + Proxy.secret(client));
        assertThat(w.until("a ")).contains("a OK");
        return w;
    }
}
