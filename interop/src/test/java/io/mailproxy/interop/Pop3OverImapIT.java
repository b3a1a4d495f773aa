package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * POP3 served from Dovecot's IMAP INBOX ({@code pop3.source = imap}): UIDL {@code <uidvalidity>.<uid>}, exact RETR,
 * each on-delete policy checked on the upstream after QUIT, and a dropped connection deleting nothing.
 */
@ExtendWith(Interop.Extension.class)
class Pop3OverImapIT {

    static final String USER = Proxy.POP3IMAP_USER;

    Interop env;
    Proxy proxy;
    byte[] m1;
    byte[] m2;
    byte[] m3;
    long u1;
    long u2;
    long u3;
    long uidValidity;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        env.clear(USER);
        m1 = Messages.message(USER, USER, "pop-imap 1", 2000, 51);
        m2 = Messages.message(USER, USER, "pop-imap 2", 100 * 1024, 52);
        m3 = Messages.message(USER, USER, "pop-imap 3", 3000, 53);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            u1 = m.append("INBOX", m1);
            u2 = m.append("INBOX", m2, "\\Seen");
            u3 = m.append("INBOX", m3);
            uidValidity = m.uidValidity("INBOX");
        }
    }

    @Test
    void statListUidlAndRetrAreExact() throws IOException {
        try (Wire w = login("pop-keep")) {
            w.send("STAT");
            assertThat(w.line()).isEqualTo("+OK 3 " + (m1.length + m2.length + m3.length));
            w.send("LIST");
            assertThat(w.line()).startsWith("+OK");
            assertThat(new String(w.pop3MultiLine(), java.nio.charset.StandardCharsets.US_ASCII))
                    .isEqualTo("1 " + m1.length + "\r\n2 " + m2.length + "\r\n3 " + m3.length + "\r\n");
            w.send("UIDL");
            assertThat(w.line()).startsWith("+OK");
            assertThat(new String(w.pop3MultiLine(), java.nio.charset.StandardCharsets.US_ASCII))
                    .isEqualTo("1 " + uidValidity + "." + u1 + "\r\n2 " + uidValidity + "." + u2 + "\r\n3 "
                            + uidValidity + "." + u3 + "\r\n");
            w.send("RETR 2");
            assertThat(w.line()).startsWith("+OK");
            Exact.assertSameBytes("RETR 2", w.pop3MultiLine(), m2);
            w.send("TOP 1 0");
            assertThat(w.line()).startsWith("+OK");
            byte[] top = w.pop3MultiLine();
            String headers = new String(m1, java.nio.charset.StandardCharsets.UTF_8);
            assertThat(new String(top, java.nio.charset.StandardCharsets.UTF_8))
                    .isEqualTo(headers.substring(0, headers.indexOf("\r\n\r\n") + 4));
            w.send("QUIT");
            assertThat(w.line()).startsWith("+OK");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pop-expunge", "pop-keep", "pop-seen", "pop-trash", "pop-archive"})
    void deleAtQuitAppliesTheOnDeletePolicyUpstream(String client) throws IOException {
        try (Wire w = login(client)) {
            w.send("DELE 1");
            assertThat(w.line()).startsWith("+OK");
            w.send("DELE 3");
            assertThat(w.line()).startsWith("+OK");
            w.send("STAT");
            assertThat(w.line()).isEqualTo("+OK 1 " + m2.length);
            w.send("QUIT");
            assertThat(w.line()).startsWith("+OK");
            assertThat(w.drain(1 << 20)).isEmpty();
        }
        try (UpstreamMailbox m = env.mailbox(USER)) {
            Map<Long, String> inbox = m.flags("INBOX");
            switch (Proxy.ON_DELETE.get(client)) {
                case "expunge" -> {
                    assertThat(inbox.keySet()).containsExactly(u2);
                    assertThat(m.count("Trash")).isZero();
                }
                case "keep" -> {
                    assertThat(inbox.keySet()).containsExactly(u1, u2, u3);
                    assertThat(inbox.get(u1)).doesNotContain("\\Deleted").doesNotContain("\\Seen");
                    assertThat(inbox.get(u3)).doesNotContain("\\Deleted").doesNotContain("\\Seen");
                }
                case "seen" -> {
                    assertThat(inbox.keySet()).containsExactly(u1, u2, u3);
                    assertThat(inbox.get(u1)).contains("\\Seen").doesNotContain("\\Deleted");
                    assertThat(inbox.get(u3)).contains("\\Seen").doesNotContain("\\Deleted");
                }
                default -> {
                    String folder = client.equals("pop-trash") ? "Trash" : "Archive";
                    assertThat(inbox.keySet()).containsExactly(u2);
                    List<UpstreamMailbox.Stored> moved = m.fetchAll(folder);
                    assertThat(moved).hasSize(2);
                    Exact.assertSameBytes("moved 1", moved.get(0).bytes(), m1);
                    Exact.assertSameBytes("moved 3", moved.get(1).bytes(), m3);
                }
            }
            assertThat(inbox.get(u2)).as("the message not deleted is untouched").isEqualTo("\\Seen");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pop-expunge", "pop-trash", "pop-seen"})
    void aDroppedConnectionDeletesNothing(String client) throws IOException {
        try (Wire w = login(client)) {
            w.send("DELE 1");
            assertThat(w.line()).startsWith("+OK");
            w.send("DELE 2");
            assertThat(w.line()).startsWith("+OK");
        } // closed without QUIT
        // the proxy notices the drop asynchronously; a new session sees the mailbox untouched
        org.awaitility.Awaitility.await().during(java.time.Duration.ofSeconds(2))
                .atMost(java.time.Duration.ofSeconds(5)).until(() -> untouched());
        try (Wire w = login(client)) {
            w.send("STAT");
            assertThat(w.line()).isEqualTo("+OK 3 " + (m1.length + m2.length + m3.length));
            w.send("QUIT");
            assertThat(w.line()).startsWith("+OK");
        }
        assertThat(untouched()).isTrue();
    }

    /**
     * Issue 13 item 4: a message expunged at Dovecot by another client after the listing. Dovecot answers the proxy's
     * UID FETCH with BODY[] NIL and [EXPUNGEISSUED]; the POP3 client must get a plain -ERR (once "+OK 0 octets" and
     * an empty body, which a fetching client stored as a message), and the session must go on.
     */
    @Test
    void aMessageExpungedAtDovecotAfterTheListingIsAPlainErr() throws IOException {
        try (Wire w = login("pop-expunge")) {
            w.send("LIST");
            assertThat(w.line()).startsWith("+OK 3 ");
            w.pop3MultiLine();
            try (UpstreamMailbox m = env.mailbox(USER)) {
                m.ok("SELECT \"INBOX\"");
                m.ok("UID STORE " + u1 + " +FLAGS.SILENT (\\Deleted)");
                m.ok("UID EXPUNGE " + u1);
            }
            w.send("RETR 1");
            assertThat(w.line()).isEqualTo("-ERR Message 1 no longer exists (removed by another client)");
            w.send("TOP 1 5");
            assertThat(w.line()).isEqualTo("-ERR Message 1 no longer exists (removed by another client)");
            w.send("RETR 3");
            assertThat(w.line()).isEqualTo("+OK " + m3.length + " octets");
            Exact.assertSameBytes("RETR 3 after the expunge", w.pop3MultiLine(), m3);
            w.send("DELE 1");
            assertThat(w.line()).startsWith("+OK");
            w.send("QUIT");
            assertThat(w.line()).startsWith("+OK");
        }
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.flags("INBOX").keySet()).as("the DELE of the gone message removed nothing else")
                    .containsExactly(u2, u3);
        }
    }

    /**
     * Issue 15 item 2 (POP3): Dovecot ends the session between commands ({@code doveadm kick}, as Office 365's
     * token-expiry BYE or a mailbox move would); the POP3 client's next RETR is served from a fresh connection, with
     * the listing it was given (same numbers, same UIDL), and no error.
     */
    @Test
    void aKickedSessionRecoversBetweenCommandsWithTheSameListing() throws Exception {
        long mark = env.logs.mark();
        try (Wire w = login("pop-keep")) {
            w.send("LIST");
            assertThat(w.line()).startsWith("+OK 3 ");
            w.pop3MultiLine();
            w.send("UIDL");
            assertThat(w.line()).startsWith("+OK");
            byte[] uidl = w.pop3MultiLine();
            Proc.Result kick = env.dovecot.kick(USER);
            assertThat(kick.exit()).as(kick.describe()).isZero();
            org.awaitility.Awaitility.await("the proxy noticed the end").atMost(java.time.Duration.ofSeconds(20))
                    .until(() -> env.logs.since(mark).stream().anyMatch(l -> l.contains("ended the session between commands")));
            w.send("RETR 2");
            assertThat(w.line()).isEqualTo("+OK " + m2.length + " octets");
            Exact.assertSameBytes("RETR 2 after the kick", w.pop3MultiLine(), m2);
            w.send("UIDL");
            assertThat(w.line()).startsWith("+OK");
            assertThat(w.pop3MultiLine()).isEqualTo(uidl);
            w.send("QUIT");
            assertThat(w.line()).startsWith("+OK");
        }
        env.assertLogged(mark, "POP3-over-IMAP session of account .* recovered on a fresh connection");
    }

    @Test
    void rsetUndeletes() throws IOException {
        try (Wire w = login("pop-expunge")) {
            w.send("DELE 1");
            assertThat(w.line()).startsWith("+OK");
            w.send("RSET");
            assertThat(w.line()).startsWith("+OK");
            w.send("QUIT");
            assertThat(w.line()).startsWith("+OK");
        }
        assertThat(untouched()).isTrue();
    }

    private boolean untouched() throws IOException {
        try (UpstreamMailbox m = env.mailbox(USER)) {
            Map<Long, String> inbox = m.flags("INBOX");
            return inbox.keySet().equals(java.util.Set.of(u1, u2, u3)) && !inbox.get(u1).contains("\\Deleted")
                    && !inbox.get(u1).contains("\\Seen") && inbox.get(u2).equals("\\Seen")
                    && !inbox.get(u3).contains("\\Seen") && m.count("Trash") == 0;
        }
    }

    private Wire login(String client) throws IOException {
        Wire w = Wire.proxy(proxy.pop3Port());
        assertThat(w.line()).startsWith("+OK");
        w.send("USER " + client);
        assertThat(w.line()).startsWith("+OK");
        w.send("PASS " + Proxy.secret(client));
        assertThat(w.line()).startsWith("+OK");
        return w;
    }
}
