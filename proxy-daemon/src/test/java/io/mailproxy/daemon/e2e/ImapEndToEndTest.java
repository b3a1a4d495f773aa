package io.mailproxy.daemon.e2e;

import static io.mailproxy.daemon.e2e.E2eFixture.ALICE;
import static io.mailproxy.daemon.e2e.E2eFixture.ALICE_PW;
import static io.mailproxy.daemon.e2e.E2eFixture.READER;
import static io.mailproxy.daemon.e2e.E2eFixture.READER_PW;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Flags;
import jakarta.mail.Folder;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Store;
import jakarta.mail.event.MessageCountAdapter;
import jakarta.mail.event.MessageCountEvent;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.angus.mail.imap.IMAPFolder;
import org.eclipse.angus.mail.imap.IMAPMessage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Angus Mail's IMAP client through the assembled daemon to GreenMail IMAPS, logged in upstream with XOAUTH2. */
class ImapEndToEndTest {

    @TempDir
    static Path state;
    static E2eFixture f;

    @BeforeAll
    static void start() {
        f = E2eFixture.start(state);
    }

    @AfterAll
    static void stop() {
        if (f != null) {
            f.close();
        }
    }

    private static Store store(String user, String password) throws Exception {
        Properties p = new Properties();
        p.put("mail.imap.connectiontimeout", "10000");
        p.put("mail.imap.timeout", "10000");
        Store s = Session.getInstance(p).getStore("imap");
        s.connect(f.imap().getHostString(), f.imap().getPort(), user, password);
        return s;
    }

    private static MimeMessage message(String subject, String body) throws Exception {
        String raw = "From: Billing <billing@fabrikam.example>\r\n"
                + "To: reports@contoso.com\r\n"
                + "Subject: " + subject + "\r\n"
                + "Message-ID: <" + subject.hashCode() + "@fabrikam.example>\r\n"
                + "MIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=UTF-8\r\n"
                + "Content-Transfer-Encoding: 8bit\r\n"
                + "\r\n" + body;
        return new MimeMessage(Session.getInstance(new Properties()),
                new ByteArrayInputStream(raw.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void fetchIsByteIdenticalToTheUpstreamsAndAppendLandsUpstream() throws Exception {
        f.oauthUser.deliver(message("Invoice 4711 " + System.nanoTime(),
                "Grüße, amount due 123.45 EUR\r\n.a line starting with a dot\r\n\r\nend\r\n"));
        Store store = store(ALICE, ALICE_PW);
        try {
            IMAPFolder inbox = (IMAPFolder) store.getFolder("INBOX");
            inbox.open(Folder.READ_WRITE);
            Message last = inbox.getMessage(inbox.getMessageCount());
            long uid = inbox.getUID(last);
            ByteArrayOutputStream viaAngus = new ByteArrayOutputStream();
            ((IMAPMessage) last).writeTo(viaAngus);

            byte[] upstream;
            try (LineClient direct = f.directImap()) {
                upstream = direct.fetchBody("d3", uid);
            }
            byte[] viaProxy;
            try (LineClient raw = LineClient.connect(f.imap())) {
                raw.line();
                assertThat(raw.imap("a", "LOGIN " + ALICE + " " + ALICE_PW)).last().asString().startsWith("a OK");
                raw.imap("b", "SELECT INBOX");
                viaProxy = raw.fetchBody("c", uid);
                assertThat(raw.imap("z", "LOGOUT")).last().asString().startsWith("z OK");
            }
            assertThat(viaProxy).isEqualTo(upstream);
            assertThat(viaAngus.toByteArray()).isEqualTo(upstream);

            MimeMessage appended = message("Appended " + System.nanoTime(), "appended through mailproxy\r\n");
            ByteArrayOutputStream appendedBytes = new ByteArrayOutputStream();
            appended.writeTo(appendedBytes);
            inbox.appendMessages(new Message[] {appended});
            inbox.close(false);
            try (LineClient direct = f.directImap()) {
                List<String> search = direct.imap("d4", "UID SEARCH HEADER Subject \"" + appended.getSubject() + "\"");
                long appendedUid = Long.parseLong(search.get(0).substring("* SEARCH ".length()).trim());
                assertThat(direct.fetchBody("d5", appendedUid)).isEqualTo(appendedBytes.toByteArray());
            }
        } finally {
            store.close();
        }
    }

    @Test
    void aLargeMessageIsFetchedByteIdenticalThroughThePool() throws Exception {
        StringBuilder body = new StringBuilder();
        for (int i = 0; body.length() < 3_000_000; i++) {
            body.append(i % 50 == 0 ? ".dot line " : "line ").append(i).append(" äöü of a large scanned document\r\n");
        }
        String subject = "Large " + System.nanoTime();
        f.oauthUser.deliver(message(subject, body.toString()));
        long uid;
        byte[] upstream;
        try (LineClient direct = f.directImap()) {
            uid = E2eFixture.uidsWithSubject(direct, subject).get(0);
            upstream = direct.fetchBody("d3", uid);
        }
        assertThat(upstream.length).isGreaterThan(3_000_000);
        try (LineClient raw = LineClient.connect(f.imap())) {
            raw.line();
            raw.imap("a", "LOGIN " + ALICE + " " + ALICE_PW);
            raw.imap("b", "EXAMINE INBOX");
            assertThat(raw.fetchBody("c", uid)).isEqualTo(upstream);
            // the session goes on after the big literal
            assertThat(raw.imap("d", "NOOP")).last().asString().startsWith("d OK");
            raw.imap("z", "LOGOUT");
        }
    }

    @Test
    void idleReportsAMessageDeliveredUpstream() throws Exception {
        Store store = store(ALICE, ALICE_PW);
        try {
            IMAPFolder inbox = (IMAPFolder) store.getFolder("INBOX");
            inbox.open(Folder.READ_ONLY);
            AtomicInteger added = new AtomicInteger();
            inbox.addMessageCountListener(new MessageCountAdapter() {
                @Override
                public void messagesAdded(MessageCountEvent e) {
                    added.addAndGet(e.getMessages().length);
                }
            });
            CompletableFuture<Void> idling = CompletableFuture.runAsync(() -> {
                try {
                    inbox.idle(true);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            // GreenMail answers "+ idling" before it watches the mailbox: deliver until one is reported
            await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(300)).until(() -> {
                if (added.get() == 0) {
                    f.oauthUser.deliver(message("Idle " + System.nanoTime(), "new\r\n"));
                }
                return added.get() > 0;
            });
            idling.get(10, java.util.concurrent.TimeUnit.SECONDS);
            inbox.close(false);
        } finally {
            store.close();
        }
    }

    @Test
    void aSecondSessionReusesThePooledUpstreamConnection() throws Exception {
        try (LineClient c = LineClient.connect(f.imap())) {
            c.line();
            assertThat(c.imap("a", "LOGIN " + ALICE + " " + ALICE_PW)).last().asString().startsWith("a OK");
            c.imap("b", "SELECT INBOX");
            assertThat(c.imap("c", "LOGOUT")).last().asString().startsWith("c OK");
        }
        // the session's connection goes back to the pool (after UNSELECT) once LOGOUT completed
        await().dontCatchUncaughtExceptions().atMost(Duration.ofSeconds(5)).until(() -> f.daemon.poolSnapshot().stream()
                .anyMatch(p -> p.account().equals(E2eFixture.OAUTH_MAILBOX) && p.active() == 0 && p.idle() >= 1));
        int logins = f.upstreamOauthLogins();
        int tokens = f.idp.requests(io.mailproxy.testkit.FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS);
        Store store = store(ALICE, ALICE_PW);
        try {
            Folder inbox = store.getFolder("INBOX");
            inbox.open(Folder.READ_ONLY);
            inbox.getMessageCount();
            inbox.close(false);
        } finally {
            store.close();
        }
        assertThat(f.upstreamOauthLogins()).as("upstream logins for two client sessions").isEqualTo(logins);
        assertThat(f.idp.requests(io.mailproxy.testkit.FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isEqualTo(tokens);
    }

    @Test
    void wrongLocalPasswordIsAuthenticationFailed() throws Exception {
        try (LineClient c = LineClient.connect(f.imap())) {
            c.line();
            assertThat(c.imap("a", "LOGIN " + ALICE + " not-her-password")).last().asString()
                    .startsWith("a NO [AUTHENTICATIONFAILED]");
        }
        assertThatThrownBy(() -> store(ALICE, "wrong")).isInstanceOf(AuthenticationFailedException.class);
    }

    @Test
    void readOnlyClientCannotStoreOrExpunge() throws Exception {
        f.oauthUser.deliver(message("Keep me " + System.nanoTime(), "keep\r\n"));
        try (LineClient c = LineClient.connect(f.imap())) {
            c.line();
            assertThat(c.imap("a", "LOGIN " + READER + " " + READER_PW)).last().asString().startsWith("a OK");
            assertThat(c.imap("b", "SELECT INBOX")).last().asString().startsWith("b OK [READ-ONLY]");
            assertThat(c.imap("c", "STORE 1 +FLAGS (\\Deleted)")).last().asString().startsWith("c NO [NOPERM]");
            assertThat(c.imap("d", "UID STORE 1 +FLAGS (\\Deleted)")).last().asString().startsWith("d NO [NOPERM]");
            assertThat(c.imap("e", "EXPUNGE")).last().asString().startsWith("e NO [NOPERM]");
            assertThat(c.imap("f", "UID EXPUNGE 1")).last().asString().startsWith("f NO [NOPERM]");
            assertThat(c.imap("g", "FETCH 1 (FLAGS)")).last().asString().startsWith("g OK");
            c.imap("z", "LOGOUT");
        }
        try (LineClient direct = f.directImap()) {
            assertThat(String.join("\n", direct.imap("d3", "FETCH 1 (FLAGS)"))).doesNotContain("\\Deleted");
        }
    }
}
