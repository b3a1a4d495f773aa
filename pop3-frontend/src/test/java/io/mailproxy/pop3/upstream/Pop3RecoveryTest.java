package io.mailproxy.pop3.upstream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.pop3.testing.Pop3Client;
import io.mailproxy.pop3.testing.ProxyServer;
import io.mailproxy.testkit.Office365;
import io.mailproxy.testkit.ScriptedUpstream;
import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import io.micrometer.core.instrument.Counter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 15 item 2 (POP3): Office 365 ends an IMAP session on its own (token expiry BYE, "Connection closed." BYE, a
 * reset). Between commands, the POP3-over-IMAP session moves to a fresh connection at the client's next command that
 * needs the upstream and goes on with the listing the client was given (same numbers, same UIDs).
 */
class Pop3RecoveryTest {

    private static final String USER = "acct@example.com";
    private static final String PASSWORD = "pw";
    private static final List<Long> UIDS = List.of(10L, 20L, 30L);

    private final AtomicLong uidValidity = new AtomicLong(7);
    private ScriptedUpstream imap;
    private ProxyServer proxy;

    private static String message(long uid) {
        return "Subject: message " + uid + "\r\n\r\nbody of " + uid + "\r\n";
    }

    @BeforeEach
    void start() throws Exception {
        Office365 o365 = Office365.of(Dialect.IMAP, Security.PLAINTEXT, null).account(USER, PASSWORD);
        o365.builder()
                .on("EXAMINE", ex -> ex.reply("* 3 EXISTS", "* 0 RECENT",
                        "* OK [UIDVALIDITY " + uidValidity.get() + "] UIDVALIDITY value",
                        ex.tag() + " OK [READ-ONLY] EXAMINE completed."))
                .on("UID", ex -> {
                    String args = ex.args();
                    if (args.equals("SEARCH ALL")) {
                        ex.reply("* SEARCH 10 20 30", ex.tag() + " OK SEARCH completed.");
                    } else if (args.equals("FETCH 1:* (UID RFC822.SIZE)")) {
                        for (int i = 0; i < UIDS.size(); i++) {
                            ex.reply("* " + (i + 1) + " FETCH (UID " + UIDS.get(i) + " RFC822.SIZE "
                                    + message(UIDS.get(i)).length() + ")");
                        }
                        ex.reply(ex.tag() + " OK FETCH completed.");
                    } else if (args.matches("FETCH \\d+ \\(BODY\\.PEEK\\[\\]\\)")) {
                        long uid = Long.parseLong(args.split(" ")[1]);
                        String body = message(uid);
                        ex.replyRaw("* " + (UIDS.indexOf(uid) + 1) + " FETCH (UID " + uid + " BODY[] {"
                                + body.getBytes(StandardCharsets.UTF_8).length + "}\r\n" + body + ")\r\n"
                                + ex.tag() + " OK FETCH completed.\r\n");
                    } else {
                        ex.reply(ex.tag() + " BAD Command Error. 12");
                    }
                });
        imap = o365.start();
        proxy = new ProxyServer(imap.port(), USER, PASSWORD);
        proxy.core.client("alice", "secret", new Pop3Policy(Pop3Policy.Source.IMAP, "INBOX", false, OnDelete.parse("keep")));
        proxy.core.configure("pop3 { recovery-backoff = 20ms }");
    }

    @AfterEach
    void stop() {
        proxy.close();
        imap.close();
    }

    /** Logged in, LIST and UIDL seen; returns the UIDL listing. */
    private String loggedIn(Pop3Client c) throws Exception {
        c.line();
        c.command("USER alice");
        assertThat(c.command("PASS secret")).startsWith("+OK maildrop has 3 messages");
        assertThat(c.command("LIST")).startsWith("+OK");
        c.body();
        assertThat(c.command("UIDL")).startsWith("+OK");
        return c.bodyText();
    }

    private double recoveries(String outcome) {
        Counter counter = proxy.core.meters.find("mailproxy.pop3.recoveries").tag("outcome", outcome).counter();
        return counter == null ? 0 : counter.count();
    }

    /** The session noticed the end (the lost lease was discarded): the next command comes between commands. */
    private void endSessions(Office365.Ending ending) {
        Office365.endSessions(imap, ending);
        await().atMost(Duration.ofSeconds(5)).until(() -> proxy.leaseEnds.contains("discard"));
    }

    @ParameterizedTest
    @EnumSource(Office365.Ending.class)
    void anEndedUpstreamBetweenCommandsRecoversWithTheSameListing(Office365.Ending ending) throws Exception {
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            String uidl = loggedIn(c);
            assertThat(uidl).isEqualTo("1 7.10\r\n2 7.20\r\n3 7.30\r\n");
            endSessions(ending);
            assertThat(c.command("RETR 2")).isEqualTo("+OK " + message(20).length() + " octets");
            assertThat(c.bodyText()).isEqualTo(message(20));
            assertThat(c.command("UIDL")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo(uidl);
            assertThat(c.command("RETR 3")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo(message(30));
            assertThat(c.command("QUIT")).startsWith("+OK");
        }
        assertThat(imap.connections()).isEqualTo(2);
        assertThat(recoveries("recovered")).isEqualTo(1);
        // only a BYE that names the token drops the cached token (a fresh login fetches a new one)
        assertThat(proxy.tokenRejections()).hasSize(ending == Office365.Ending.TOKEN_EXPIRED ? 1 : 0);
    }

    @Test
    void aChangedUidValidityEndsTheSessionWithSysTemp() throws Exception {
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            loggedIn(c);
            endSessions(Office365.Ending.TOKEN_EXPIRED);
            uidValidity.set(8);
            assertThat(c.command("RETR 2"))
                    .isEqualTo("-ERR [SYS/TEMP] Lost the connection to the mail server, try again later");
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(imap.received()).noneMatch(line -> line.contains("BODY.PEEK[]"));
        await().atMost(Duration.ofSeconds(5)).until(() -> recoveries("uidvalidity_changed") == 1);
        assertThat(recoveries("recovered")).isZero();
    }

    @Test
    void aFreshConnectionThatFailsOnceIsTriedAgain() throws Exception {
        int before;
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            loggedIn(c);
            before = proxy.core.pools.requested.size();
            proxy.core.pools.nextFailure(new UpstreamException(UpstreamException.Kind.UNREACHABLE, "down"));
            endSessions(Office365.Ending.RESET);
            assertThat(c.command("RETR 2")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo(message(20));
        }
        assertThat(proxy.core.pools.requested.size() - before).isEqualTo(2);
        assertThat(recoveries("recovered")).isEqualTo(1);
    }

    @Test
    void exhaustedAttemptsEndTheSessionWithSysTemp() throws Exception {
        int before;
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            loggedIn(c);
            before = proxy.core.pools.requested.size();
            for (int i = 0; i < 4; i++) {
                proxy.core.pools.nextFailure(new UpstreamException(UpstreamException.Kind.UNREACHABLE, "down"));
            }
            endSessions(Office365.Ending.TOKEN_EXPIRED);
            assertThat(c.command("RETR 2"))
                    .isEqualTo("-ERR [SYS/TEMP] Lost the connection to the mail server, try again later");
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(proxy.core.pools.requested.size() - before).isEqualTo(4); // recovery-attempts' default
        await().atMost(Duration.ofSeconds(5)).until(() -> recoveries("failed") == 1);
    }

    @Test
    void commandsThatNeedNoUpstreamGoOnWithoutOne() throws Exception {
        try (Pop3Client c = new Pop3Client(proxy.port())) {
            String uidl = loggedIn(c);
            endSessions(Office365.Ending.CONNECTION_CLOSED);
            assertThat(c.command("STAT")).startsWith("+OK 3 ");
            assertThat(c.command("UIDL")).startsWith("+OK");
            assertThat(c.bodyText()).isEqualTo(uidl);
            assertThat(c.command("QUIT")).isEqualTo("+OK mailproxy POP3 signing off");
        }
        assertThat(imap.connections()).isEqualTo(1);
    }
}
