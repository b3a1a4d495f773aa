package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.icegreen.greenmail.junit5.GreenMailExtension;
import com.icegreen.greenmail.util.ServerSetupTest;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.pop3.testing.Pop3Client;
import io.mailproxy.pop3.testing.ProxyServer;
import io.mailproxy.pop3.testing.RawImap;
import io.mailproxy.testkit.core.FakeCore;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** source = imap against GreenMail: what a POP3 client receives, and what happens to the IMAP folder. */
class Pop3OverImapTest {

    private static final String USER = "acct@example.com";
    private static final String PASSWORD = "pw";

    @RegisterExtension
    static final GreenMailExtension greenMail = new GreenMailExtension(ServerSetupTest.IMAP.dynamicPort());

    private ProxyServer proxy;
    private RawImap direct;

    @BeforeEach
    void start() throws Exception {
        greenMail.setUser(USER, USER, PASSWORD);
        proxy = new ProxyServer(greenMail.getImap().getPort(), USER, PASSWORD);
        direct = new RawImap(greenMail.getImap().getPort(), USER, PASSWORD);
    }

    @AfterEach
    void stop() throws Exception {
        direct.close();
        proxy.close();
    }

    private void policy(Pop3Policy policy) {
        proxy.core.client("alice", "secret", policy);
    }

    private static Pop3Policy imap(String onDelete) {
        return new Pop3Policy(Pop3Policy.Source.IMAP, "INBOX", false, OnDelete.parse(onDelete));
    }

    private Pop3Client login() throws Exception {
        Pop3Client c = new Pop3Client(proxy.port());
        assertThat(c.line()).isEqualTo("+OK mailproxy POP3 ready");
        assertThat(c.command("USER alice")).startsWith("+OK");
        return c;
    }

    /** A message of about {@code size} octets with dot-led lines, a lone dot line, and optionally no final CRLF. */
    static byte[] message(String subject, int size, boolean finalCrlf) {
        StringBuilder b = new StringBuilder("From: sender@example.com\r\nTo: " + USER + "\r\nSubject: " + subject
                + "\r\nMessage-ID: <" + subject + "@example.com>\r\n\r\n");
        int n = 0;
        while (b.length() < size) {
            n++;
            if (n % 7 == 0) {
                b.append(".dot-led line ").append(n).append("\r\n");
            } else if (n % 11 == 0) {
                b.append(".\r\n");
            } else {
                b.append("line ").append(n).append(" the quick brown fox jumps over the lazy dog 0123456789\r\n");
            }
        }
        if (!finalCrlf) {
            b.append("no final CRLF");
        }
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }

    private List<Long> uids(String folder) throws Exception {
        direct.command("SELECT " + folder);
        List<Long> uids = new ArrayList<>();
        for (String r : direct.command("UID SEARCH ALL")) {
            for (String s : r.strip().split(" ")) {
                if (s.matches("\\d+")) {
                    uids.add(Long.parseLong(s));
                }
            }
        }
        return uids;
    }

    private String flags(long uid) throws Exception {
        direct.command("SELECT INBOX");
        for (String r : direct.command("UID FETCH " + uid + " (FLAGS)")) {
            Matcher m = Pattern.compile("FLAGS \\(([^)]*)\\)").matcher(r);
            if (m.find()) {
                return m.group(1);
            }
        }
        return null;
    }

    @Test
    void retrIsByteIdenticalToBodyForSmallLargeAndHugeMessages() throws Exception {
        policy(imap("keep"));
        direct.append("INBOX", message("small", 1024, false));
        direct.append("INBOX", message("large", 100 * 1024, true));
        direct.append("INBOX", message("huge", 10 * 1024 * 1024, true));
        List<Long> uids = uids("INBOX");
        try (Pop3Client c = login()) {
            assertThat(c.command("PASS secret")).isEqualTo("+OK maildrop has 3 messages (" + sizeSum(uids) + " octets)");
            for (int i = 0; i < 3; i++) {
                byte[] body = direct.body(uids.get(i));
                assertThat(c.command("RETR " + (i + 1))).isEqualTo("+OK " + body.length + " octets");
                byte[] got = c.body();
                byte[] expected = endsWithCrlf(body) ? body : concat(body, "\r\n".getBytes(StandardCharsets.US_ASCII));
                assertThat(got).as("message %d", i + 1).isEqualTo(expected);
            }
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
        assertThat(flags(uids.get(0))).doesNotContain("\\Seen");
        assertThat(proxy.upstreamCommands).noneMatch(cmd -> cmd.contains("BODY[]") || cmd.contains("STORE"));
    }

    private long sizeSum(List<Long> uids) throws Exception {
        long sum = 0;
        for (String r : direct.command("UID FETCH 1:* (RFC822.SIZE)")) {
            Matcher m = Pattern.compile("RFC822.SIZE (\\d+)").matcher(r);
            if (m.find()) {
                sum += Long.parseLong(m.group(1));
            }
        }
        return sum;
    }

    private static boolean endsWithCrlf(byte[] b) {
        return b.length >= 2 && b[b.length - 2] == '\r' && b[b.length - 1] == '\n';
    }

    private static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(a);
        o.writeBytes(b);
        return o.toByteArray();
    }

    @Test
    void aFolderOverMaxMessagesServesTheOldest() throws Exception {
        proxy.core.configure("pop3 { max-messages = 2 }");
        policy(imap("keep"));
        direct.append("INBOX", message("a", 500, true));
        direct.append("INBOX", message("b", 700, true));
        direct.append("INBOX", message("c", 900, true));
        List<Long> uids = uids("INBOX");
        try (Pop3Client c = login()) {
            assertThat(c.command("PASS secret")).startsWith("+OK maildrop has 2 messages (");
            assertThat(c.command("UIDL 2")).endsWith("." + uids.get(1));
            assertThat(c.command("LIST 3")).startsWith("-ERR");
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
    }

    @Test
    void statListAndUidlShowTheFolderAsItStoodAtLogin() throws Exception {
        policy(imap("keep"));
        direct.append("INBOX", message("a", 500, true));
        direct.append("INBOX", message("b", 700, true));
        List<Long> uids = uids("INBOX");
        long octets = sizeSum(uids);
        String validity = direct.command("STATUS INBOX (UIDVALIDITY)").get(0).replaceAll(".*UIDVALIDITY (\\d+).*\\s*", "$1");
        try (Pop3Client c = login()) {
            assertThat(c.command("PASS secret")).startsWith("+OK maildrop has 2 messages");
            direct.append("INBOX", message("late", 300, true));
            assertThat(c.command("STAT")).isEqualTo("+OK 2 " + octets);
            assertThat(c.command("UIDL")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo("1 " + validity + "." + uids.get(0) + "\r\n2 " + validity + "."
                    + uids.get(1) + "\r\n");
            assertThat(c.command("UIDL 2")).isEqualTo("+OK 2 " + validity + "." + uids.get(1));
            assertThat(c.command("LIST")).isEqualTo("+OK 2 messages (" + octets + " octets)");
            String listing = c.bodyText();
            assertThat(listing).matches("1 \\d+\r\n2 \\d+\r\n");
            assertThat(c.command("LIST 3")).isEqualTo("-ERR No such message: 3");
            assertThat(c.command("DELE 1")).isEqualTo("+OK message 1 deleted");
            assertThat(c.command("RETR 1")).isEqualTo("-ERR No such message: 1");
            assertThat(c.command("STAT")).startsWith("+OK 1 ");
            assertThat(c.command("RSET")).startsWith("+OK maildrop has 2 messages");
            assertThat(c.command("NOOP")).isEqualTo("+OK");
            assertThat(c.command("CAPA")).isEqualTo("+OK Capability list follows");
            assertThat(c.bodyText()).isEqualTo("TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
                    + "IMPLEMENTATION mailproxy\r\n");
        }
    }

    @Test
    void topSendsHeaderAndLinesWithoutFetchingTheWholeMessage() throws Exception {
        policy(imap("keep"));
        byte[] big = message("big", 2 * 1024 * 1024, true);
        direct.append("INBOX", big);
        long uid = uids("INBOX").get(0);
        byte[] body = direct.body(uid);
        String text = new String(body, StandardCharsets.US_ASCII);
        int headerEnd = text.indexOf("\r\n\r\n") + 4;
        String[] lines = text.substring(headerEnd).split("(?<=\r\n)");
        try (Pop3Client c = login()) {
            assertThat(c.command("PASS secret")).startsWith("+OK");
            proxy.upstreamBytes.set(0);
            assertThat(c.command("TOP 1 3")).isEqualTo("+OK top of message follows");
            assertThat(c.bodyText()).isEqualTo(text.substring(0, headerEnd) + lines[0] + lines[1] + lines[2]);
            assertThat(proxy.upstreamBytes.get()).isLessThan(16 * 1024);
            assertThat(c.command("TOP 1 0")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo(text.substring(0, headerEnd));
            // more lines than the first piece holds: the pieces grow, still not the whole message
            proxy.upstreamBytes.set(0);
            assertThat(c.command("TOP 1 200")).startsWith("+OK");
            StringBuilder first200 = new StringBuilder(text.substring(0, headerEnd));
            for (int i = 0; i < 200; i++) {
                first200.append(lines[i]);
            }
            assertThat(c.bodyText()).isEqualTo(first200.toString());
            assertThat(proxy.upstreamBytes.get()).isLessThan(64 * 1024);
        }
        assertThat(proxy.upstreamCommands).noneMatch(cmd -> cmd.contains("BODY.PEEK[]"));
        assertThat(proxy.upstreamCommands).contains("UID FETCH " + uid + " (BODY.PEEK[TEXT]<0.4096>)");
    }

    @Test
    void expungeRemovesOnlyTheDeletedMessagesWithUidExpunge() throws Exception {
        policy(imap("expunge"));
        for (String s : new String[] {"one", "two", "three"}) {
            direct.append("INBOX", message(s, 400, true));
        }
        List<Long> uids = uids("INBOX");
        // another client's \Deleted message that is not ours to expunge
        direct.command("UID STORE " + uids.get(2) + " +FLAGS (\\Deleted)");
        try (Pop3Client c = login()) {
            assertThat(c.command("PASS secret")).startsWith("+OK maildrop has 3 messages");
            assertThat(c.command("DELE 1")).startsWith("+OK");
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off (1 messages deleted)");
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(uids("INBOX")).containsExactly(uids.get(1), uids.get(2));
        assertThat(proxy.upstreamCommands).contains("UID STORE " + uids.get(0) + " +FLAGS.SILENT (\\Deleted)",
                "UID EXPUNGE " + uids.get(0));
        assertThat(proxy.upstreamCommands).noneMatch(cmd -> cmd.equals("EXPUNGE"));
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.size() == 1);
        assertThat(proxy.leaseEnds).containsExactly("release");
    }

    @Test
    void keepLeavesEverythingAndRetrNeverMarksRead() throws Exception {
        policy(imap("keep"));
        direct.append("INBOX", message("one", 400, true));
        direct.append("INBOX", message("two", 400, true));
        List<Long> uids = uids("INBOX");
        try (Pop3Client c = login()) {
            c.command("PASS secret");
            assertThat(c.command("RETR 1")).startsWith("+OK");
            c.body();
            assertThat(c.command("DELE 1")).startsWith("+OK");
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off (1 messages kept)");
        }
        assertThat(uids("INBOX")).isEqualTo(uids);
        assertThat(flags(uids.get(0))).doesNotContain("\\Seen").doesNotContain("\\Deleted");
        assertThat(proxy.upstreamCommands).anyMatch(cmd -> cmd.startsWith("EXAMINE"))
                .noneMatch(cmd -> cmd.contains("STORE") || cmd.contains("EXPUNGE"));
    }

    @Test
    void seenMarksOnlyTheDeletedMessagesRead() throws Exception {
        policy(imap("seen"));
        direct.append("INBOX", message("one", 400, true));
        direct.append("INBOX", message("two", 400, true));
        List<Long> uids = uids("INBOX");
        try (Pop3Client c = login()) {
            c.command("PASS secret");
            assertThat(c.command("RETR 2")).startsWith("+OK");
            c.body();
            assertThat(c.command("DELE 1")).startsWith("+OK");
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off (1 messages marked read)");
        }
        assertThat(uids("INBOX")).isEqualTo(uids);
        assertThat(flags(uids.get(0))).contains("\\Seen");
        assertThat(flags(uids.get(1))).doesNotContain("\\Seen");
        assertThat(proxy.upstreamCommands).contains("UID STORE " + uids.get(0) + " +FLAGS.SILENT (\\Seen)");
    }

    @Test
    void moveUsesUidMove() throws Exception {
        policy(imap("move:Archive"));
        direct.command("CREATE Archive");
        direct.append("INBOX", message("one", 400, true));
        direct.append("INBOX", message("two", 400, true));
        List<Long> uids = uids("INBOX");
        try (Pop3Client c = login()) {
            c.command("PASS secret");
            assertThat(c.command("DELE 2")).startsWith("+OK");
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off (1 messages moved)");
        }
        assertThat(uids("INBOX")).containsExactly(uids.get(0));
        assertThat(uids("Archive")).hasSize(1);
        assertThat(proxy.upstreamCommands).contains("UID MOVE " + uids.get(1) + " \"Archive\"");
    }

    @Test
    void moveWithoutMoveCapabilityCopiesThenExpungesByUid() throws Exception {
        proxy.hideCapabilities.add("MOVE");
        policy(imap("move:Archive"));
        direct.command("CREATE Archive");
        direct.append("INBOX", message("one", 400, true));
        direct.append("INBOX", message("two", 400, true));
        direct.append("INBOX", message("three", 400, true));
        List<Long> uids = uids("INBOX");
        try (Pop3Client c = login()) {
            c.command("PASS secret");
            c.command("DELE 1");
            c.command("DELE 2");
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off (2 messages moved)");
        }
        assertThat(uids("INBOX")).containsExactly(uids.get(2));
        assertThat(uids("Archive")).hasSize(2);
        String set = uids.get(0) + ":" + uids.get(1);
        assertThat(proxy.upstreamCommands).containsSubsequence("UID COPY " + set + " \"Archive\"",
                "UID STORE " + set + " +FLAGS.SILENT (\\Deleted)", "UID EXPUNGE " + set);
    }

    @Test
    void connectionDroppedBeforeQuitChangesNothingUpstream() throws Exception {
        policy(imap("expunge"));
        direct.append("INBOX", message("one", 400, true));
        direct.append("INBOX", message("two", 400, true));
        List<Long> uids = uids("INBOX");
        try (Pop3Client c = login()) {
            c.command("PASS secret");
            assertThat(c.command("DELE 1")).startsWith("+OK");
            assertThat(c.command("DELE 2")).startsWith("+OK");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.size() == 1);
        assertThat(proxy.leaseEnds).containsExactly("release");
        assertThat(uids("INBOX")).isEqualTo(uids);
        assertThat(flags(uids.get(0))).doesNotContain("\\Deleted");
        assertThat(proxy.upstreamCommands).noneMatch(cmd -> cmd.contains("STORE") || cmd.contains("EXPUNGE"));
    }

    @Test
    void onlyUnseenServesTheUnreadMessages() throws Exception {
        policy(new Pop3Policy(Pop3Policy.Source.IMAP, "INBOX", true, OnDelete.parse("keep")));
        direct.append("INBOX", message("one", 400, true));
        direct.append("INBOX", message("two", 400, true));
        List<Long> uids = uids("INBOX");
        direct.command("UID STORE " + uids.get(0) + " +FLAGS (\\Seen)");
        try (Pop3Client c = login()) {
            assertThat(c.command("PASS secret")).startsWith("+OK maildrop has 1 messages");
            assertThat(c.command("UIDL 1")).endsWith("." + uids.get(1));
        }
    }

    @Test
    void aMessageThatVanishedUpstreamFailsAloneNotTheSession() throws Exception {
        policy(imap("expunge"));
        direct.append("INBOX", message("one", 400, true));
        direct.append("INBOX", message("two", 400, true));
        List<Long> uids = uids("INBOX");
        try (Pop3Client c = login()) {
            c.command("PASS secret");
            direct.command("UID STORE " + uids.get(0) + " +FLAGS (\\Deleted)");
            direct.command("EXPUNGE");
            assertThat(c.command("RETR 1")).isEqualTo("-ERR Message 1 no longer exists (removed by another client)");
            assertThat(c.command("TOP 1 1")).isEqualTo("-ERR Message 1 no longer exists (removed by another client)");
            assertThat(c.command("RETR 2")).startsWith("+OK");
            c.body();
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
    }

    @Test
    void expungeWithoutUidplusIsRefusedAtLogin() throws Exception {
        proxy.hideCapabilities.add("UIDPLUS");
        policy(imap("expunge"));
        try (Pop3Client c = login()) {
            assertThat(c.command("PASS secret")).startsWith("-ERR [SYS/PERM] ");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.size() == 1);
        assertThat(proxy.upstreamCommands).isEmpty();
    }

    @Test
    void specialUseFolderThatDoesNotExistIsRefusedAtLogin() throws Exception {
        policy(imap("move:\\Trash"));
        try (Pop3Client c = login()) {
            assertThat(c.command("PASS secret"))
                    .isEqualTo("-ERR [SYS/PERM] The folder for deleted messages does not exist upstream");
        }
        assertThat(proxy.upstreamCommands).contains("LIST \"\" \"*\"");
    }

    @Test
    void missingFolderIsSysPerm() throws Exception {
        policy(new Pop3Policy(Pop3Policy.Source.IMAP, "Nope", false, OnDelete.parse("keep")));
        try (Pop3Client c = login()) {
            assertThat(c.command("PASS secret")).isEqualTo("-ERR [SYS/PERM] Folder Nope is not available upstream");
        }
        assertThat(ClientConfig.Pop3Policy.DEFAULT.folder()).isEqualTo("INBOX");
    }
}
