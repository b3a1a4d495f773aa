package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * An upstream that ends the session on its own, as Office 365 does on mailbox moves and maintenance (and with
 * {@code * BYE Session invalidated - AccessTokenExpired}): here Dovecot's {@code doveadm kick} while a client sits in
 * IDLE through the proxy. The proxy recovers on a fresh connection; the client gets no BYE, sees the message
 * expunged meanwhile as {@code * n EXPUNGE} and the one delivered afterwards pushed as EXISTS, and its next STORE
 * and EXPUNGE by sequence number touch exactly the message it meant.
 */
@ExtendWith(Interop.Extension.class)
class UpstreamByeIT {

    static final String USER = "kicked@" + Interop.DOMAIN;

    @Test
    void aKickedIdleSessionRecoversAndTheClientSeesOnlyTheMailboxsChanges(Interop env) throws Exception {
        Proxy proxy = env.proxy();
        env.clear(USER);
        long[] uid = new long[5];
        try (UpstreamMailbox m = env.mailbox(USER)) {
            for (int i = 1; i <= 3; i++) {
                uid[i] = m.append("INBOX", Messages.message(USER, USER, "message " + i, 1_000 * i, 200 + i));
            }
        }
        long mark = env.logs.mark();
        String client = Proxy.client(USER);
        List<String> seen = new ArrayList<>();
        try (Wire w = Wire.proxy(proxy.imapPort())) {
            w.socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(30));
            assertThat(w.line()).startsWith("* OK");
            w.send("a LOGIN " + client + " " + Proxy.secret(client));
            assertThat(w.until("a ")).contains("a OK");
            w.send("b SELECT INBOX");
            assertThat(w.until("b ")).contains("* 3 EXISTS").contains("b OK");
            w.send("c IDLE");
            assertThat(w.line()).startsWith("+");
            List<ProcessHandle> before = env.dovecot.imapSessions(USER);
            assertThat(before).as("the session's Dovecot process").isNotEmpty();

            Proc.Result kick = env.dovecot.kick(USER);
            assertThat(kick.exit()).as(kick.describe()).isZero();
            await("a fresh Dovecot session").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100))
                    .until(() -> env.dovecot.imapSessions(USER).stream().anyMatch(p -> !before.contains(p)));

            // message 2 goes, message 4 comes: while the session was away, or just after; the client is told alike
            try (UpstreamMailbox m = env.mailbox(USER)) {
                m.ok("SELECT INBOX");
                m.ok("UID STORE " + uid[2] + " +FLAGS.SILENT (\\Deleted)");
                m.ok("UID EXPUNGE " + uid[2]);
                uid[4] = m.append("INBOX", Messages.message(USER, USER, "message 4", 4_000, 204));
            }
            readUntil(w, seen, "* 3 EXISTS");
            w.send("DONE");
            readUntil(w, seen, "c OK");
            assertThat(seen).as("the message expunged meanwhile").contains("* 2 EXPUNGE");

            // the client's message 2 is now what was message 3, its 3 the new one
            w.send("d STORE 2 +FLAGS (\\Deleted)");
            readUntil(w, seen, "d OK");
            w.send("e EXPUNGE");
            readUntil(w, seen, "e OK");
            assertThat(seen).contains("* 2 EXPUNGE");
            assertThat(seen).as("no BYE while the session moved").noneMatch(l -> l.startsWith("* BYE"));
            w.send("z LOGOUT");
            w.until("z ");
        }
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.fetchAll("INBOX").stream().map(UpstreamMailbox.Stored::uid))
                    .as("exactly message 3 (the client's 2 after the move) was expunged").containsExactly(uid[1], uid[4]);
        }
        env.assertLogged(mark, "(?i)upstream ended the session .*recovering on a fresh connection");
        env.assertLogged(mark, "(?i)session moved to a fresh upstream connection");
    }

    private static void readUntil(Wire w, List<String> seen, String prefix) throws IOException {
        for (String l = w.line(); l != null; l = w.line()) {
            seen.add(l);
            if (l.startsWith(prefix)) {
                return;
            }
        }
        throw new AssertionError("connection closed before " + prefix + "; lines: " + seen);
    }
}
