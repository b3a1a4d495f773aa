package io.mailproxy.daemon.e2e;

import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU;
import static io.mailproxy.daemon.e2e.E2eFixture.PASSTHRU_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER;
import static io.mailproxy.daemon.e2e.E2eFixture.POPPER_PW;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.icegreen.greenmail.user.GreenMailUser;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.eclipse.angus.mail.pop3.POP3Folder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * POP3 through the assembled daemon: served from GreenMail's IMAP (XOAUTH2 account, on-delete = expunge), and passed
 * through to GreenMail's POP3S (password account).
 */
class Pop3EndToEndTest {

    @TempDir
    static Path state;
    static E2eFixture f;

    @BeforeAll
    static void start() {
        Assumptions.assumeTrue(E2eFixture.hasPop3(), "the POP3 frontend is not on the class path");
        f = E2eFixture.start(state);
    }

    @AfterAll
    static void stop() {
        if (f != null) {
            f.close();
        }
    }

    private static String deliver(GreenMailUser user, String tag) throws Exception {
        String subject = tag + " " + System.nanoTime();
        String raw = "From: Billing <billing@fabrikam.example>\r\nTo: " + user.getEmail() + "\r\nSubject: " + subject
                + "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n"
                + "\r\nGrüße\r\n.leading dot\r\n..two dots\r\n.\r\nlast line\r\n";
        user.deliver(new MimeMessage(Session.getInstance(new Properties()),
                new ByteArrayInputStream(raw.getBytes(StandardCharsets.UTF_8))));
        return subject;
    }

    private static LineClient login(String user, String password) throws Exception {
        LineClient c = LineClient.connect(f.pop3());
        assertThat(c.line()).startsWith("+OK");
        c.send("USER " + user);
        assertThat(c.line()).startsWith("+OK");
        c.send("PASS " + password);
        assertThat(c.line()).startsWith("+OK");
        return c;
    }

    /** The message number whose UIDL is {@code uidl}, from the UIDL listing. */
    private static int numberOf(LineClient c, String uidlSuffix) throws Exception {
        c.send("UIDL");
        assertThat(c.line()).startsWith("+OK");
        String listing = new String(c.pop3MultiLine(), StandardCharsets.UTF_8);
        for (String l : listing.split("\r\n")) {
            String[] parts = l.split(" ");
            if (parts.length == 2 && parts[1].endsWith("." + uidlSuffix)) {
                return Integer.parseInt(parts[0]);
            }
        }
        throw new AssertionError("no UIDL ending ." + uidlSuffix + " in " + listing);
    }

    private static byte[] retr(LineClient c, int n) throws Exception {
        c.send("RETR " + n);
        assertThat(c.line()).startsWith("+OK");
        return c.pop3MultiLine();
    }

    @Test
    void popOverImapRetrIsByteIdenticalToTheUpstreamsBody() throws Exception {
        String subject = deliver(f.oauthUser, "Retr");
        long uid;
        byte[] upstream;
        try (LineClient direct = f.directImap()) {
            uid = E2eFixture.uidsWithSubject(direct, subject).get(0);
            upstream = direct.fetchBody("d3", uid);
        }
        try (LineClient c = login(POPPER, POPPER_PW)) {
            int n = numberOf(c, String.valueOf(uid));
            assertThat(retr(c, n)).isEqualTo(upstream);
            c.send("QUIT");
            assertThat(c.line()).startsWith("+OK");
        }
        Properties p = new Properties();
        p.put("mail.pop3.timeout", "10000");
        Store store = Session.getInstance(p).getStore("pop3");
        store.connect(f.pop3().getHostString(), f.pop3().getPort(), POPPER, POPPER_PW);
        try {
            POP3Folder inbox = (POP3Folder) store.getFolder("INBOX");
            inbox.open(Folder.READ_ONLY);
            Message found = null;
            for (Message m : inbox.getMessages()) {
                if (inbox.getUID(m).endsWith("." + uid)) {
                    found = m;
                }
            }
            assertThat(found).isNotNull();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            found.writeTo(out);
            assertThat(out.toByteArray()).isEqualTo(upstream);
            inbox.close(false);
        } finally {
            store.close();
        }
    }

    @Test
    void deleAndQuitExpungesUpstream() throws Exception {
        String subject = deliver(f.oauthUser, "Delete me");
        long uid;
        try (LineClient direct = f.directImap()) {
            uid = E2eFixture.uidsWithSubject(direct, subject).get(0);
        }
        try (LineClient c = login(POPPER, POPPER_PW)) {
            c.send("DELE " + numberOf(c, String.valueOf(uid)));
            assertThat(c.line()).startsWith("+OK");
            c.send("QUIT");
            assertThat(c.line()).startsWith("+OK");
        }
        try (LineClient direct = f.directImap()) {
            assertThat(E2eFixture.uidsWithSubject(direct, subject)).isEmpty();
        }
    }

    @Test
    void aDropBeforeQuitDeletesNothing() throws Exception {
        String subject = deliver(f.oauthUser, "Keep me");
        long uid;
        try (LineClient direct = f.directImap()) {
            uid = E2eFixture.uidsWithSubject(direct, subject).get(0);
        }
        LineClient c = login(POPPER, POPPER_PW);
        c.send("DELE " + numberOf(c, String.valueOf(uid)));
        assertThat(c.line()).startsWith("+OK");
        c.close();
        // the proxy notices the drop and gives its upstream connection back (or closes it) without deleting
        await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).until(() -> f.daemon.poolSnapshot().stream()
                .filter(s -> s.account().equals(E2eFixture.OAUTH_MAILBOX)).allMatch(s -> s.active() == 0));
        try (LineClient direct = f.directImap()) {
            assertThat(E2eFixture.uidsWithSubject(direct, subject)).containsExactly(uid);
            assertThat(String.join("\n", direct.imap("d5", "UID FETCH " + uid + " FLAGS"))).doesNotContain("\\Deleted");
        }
    }

    @Test
    void passThroughRetrIsByteIdenticalAndDeleteHappensAtQuit() throws Exception {
        String subject = deliver(f.pwUser, "Pass");
        long uid;
        byte[] upstream;
        try (LineClient direct = f.directImapPasswordMailbox()) {
            uid = E2eFixture.uidsWithSubject(direct, subject).get(0);
            upstream = direct.fetchBody("d3", uid);
        }
        try (LineClient c = login(PASSTHRU, PASSTHRU_PW)) {
            c.send("STAT");
            String stat = c.line();
            assertThat(stat).startsWith("+OK ");
            int n = Integer.parseInt(stat.split(" ")[1]);
            assertThat(retr(c, n)).isEqualTo(upstream);
            c.send("DELE " + n);
            assertThat(c.line()).startsWith("+OK");
            try (LineClient direct = f.directImapPasswordMailbox()) {
                assertThat(E2eFixture.uidsWithSubject(direct, subject)).as("not deleted before QUIT").hasSize(1);
            }
            c.send("QUIT");
            assertThat(c.line()).startsWith("+OK");
        }
        await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            try (LineClient direct = f.directImapPasswordMailbox()) {
                assertThat(E2eFixture.uidsWithSubject(direct, subject)).isEmpty();
            }
        });
    }

    @Test
    void wrongPasswordIsAuthError() throws Exception {
        try (LineClient c = LineClient.connect(f.pop3())) {
            c.line();
            c.send("USER " + POPPER);
            c.line();
            c.send("PASS wrong-password");
            assertThat(c.line()).startsWith("-ERR [AUTH]");
        }
    }
}
