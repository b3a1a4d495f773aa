package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The upstream goes away: Dovecot stopped before login, between commands, mid-FETCH, mid-RETR and mid-DATA. Each
 * time the client gets DESIGN's error in its own protocol, nothing is half-delivered, and once Dovecot is back the
 * same daemon serves again without a restart.
 */
@ExtendWith(Interop.Extension.class)
class UpstreamFaultIT {

    static final String USER = "faults@" + Interop.DOMAIN;
    static final String CLIENT = Proxy.client(USER);
    static final int BIG = 24 * 1024 * 1024; // more than loopback socket buffers hold, so the transfer is mid-way

    Interop env;
    Proxy proxy;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        env.clear(USER);
    }

    @AfterEach
    void upstreamBack() throws IOException {
        env.dovecot.start();
    }

    @Test
    void imapLoginWhileTheUpstreamRefusesConnections() throws IOException {
        env.dovecot.stop();
        long mark = env.logs.mark();
        try (Wire w = Wire.proxy(proxy.imapPort())) {
            assertThat(w.line()).startsWith("* OK");
            w.send("a LOGIN " + CLIENT + " " + Proxy.secret(CLIENT));
            assertThat(w.until("a ")).contains("a NO [UNAVAILABLE]");
        }
        env.assertLogged(mark, "(?i)refused");
        env.dovecot.start();
        assertImapServesAgain();
    }

    @Test
    void pop3LoginWhileTheUpstreamRefusesConnections() throws IOException {
        proxy.pop3Port();
        env.dovecot.stop();
        long mark = env.logs.mark();
        try (Wire w = Wire.proxy(proxy.pop3Port())) {
            assertThat(w.line()).startsWith("+OK");
            w.send("USER " + CLIENT);
            assertThat(w.line()).startsWith("+OK");
            w.send("PASS " + Proxy.secret(CLIENT));
            assertThat(w.line()).startsWith("-ERR [SYS/TEMP]");
        }
        env.assertLogged(mark, "(?i)refused");
        env.dovecot.start();
        assertPop3ServesAgain();
    }

    @Test
    void smtpWhileTheUpstreamRefusesConnections() throws IOException {
        env.dovecot.stop();
        long mark = env.logs.mark();
        try (Wire w = Wire.proxy(proxy.smtpPort())) {
            assertThat(w.line()).startsWith("220");
            w.send("EHLO client.test");
            assertThat(w.smtpReply()).startsWith("250 ");
            w.send("AUTH PLAIN " + Wire.plain(CLIENT, Proxy.secret(CLIENT)));
            String auth = w.smtpReply();
            if (auth.startsWith("235")) {
                w.send("MAIL FROM:<" + USER + ">");
                assertThat(w.smtpReply()).matches("(451 4\\.4\\.1|454 4\\.7\\.0) .*");
            } else {
                assertThat(auth).matches("(451 4\\.4\\.1|454 4\\.7\\.0) .*");
            }
        }
        env.assertLogged(mark, "(?i)refused");
        env.dovecot.start();
        assertSmtpServesAgain();
    }

    @Test
    void upstreamLostBetweenCommandsGivesByeUnavailable() throws IOException {
        try (Wire w = imapLogin()) {
            w.send("b SELECT INBOX");
            assertThat(w.until("b ")).contains("b OK");
            long mark = env.logs.mark();
            env.dovecot.stop();
            w.send("c NOOP");
            String rest = new String(w.drain(1 << 20), StandardCharsets.UTF_8);
            assertThat(rest).as("after the upstream is gone").contains("* BYE [UNAVAILABLE]")
                    .doesNotContain("c OK").doesNotEndWith("<<read timed out>>");
            env.assertLogged(mark, "(?i)(lost|closed|unavailable)");
        }
        env.dovecot.start();
        assertImapServesAgain();
    }

    @Test
    void upstreamStoppedMidFetch() throws IOException {
        byte[] msg = Messages.message(USER, USER, "big fetch", BIG, 61);
        long uid;
        try (UpstreamMailbox m = env.mailbox(USER)) {
            uid = m.append("INBOX", msg);
        }
        try (Wire w = imapLogin()) {
            w.send("b SELECT INBOX");
            assertThat(w.until("b ")).contains("b OK");
            w.send("c UID FETCH " + uid + " BODY.PEEK[]");
            String head = w.line();
            assertThat(head).endsWith("{" + msg.length + "}");
            byte[] first = w.read(64 * 1024);
            Exact.assertSameBytes("start of the literal", first, Arrays.copyOf(msg, first.length));
            long mark = env.logs.mark();
            env.dovecot.stop();
            byte[] rest = w.drain(BIG + (1 << 20));
            String tail = new String(rest, Math.max(0, rest.length - 2000), Math.min(2000, rest.length),
                    StandardCharsets.ISO_8859_1);
            assertThat(first.length + rest.length).as("the client did not get the whole message and a completion")
                    .isLessThan(msg.length + 10);
            assertThat(tail).doesNotContain("c OK").doesNotEndWith("<<read timed out>>");
            assertThat(tail).as("the client is told in IMAP why its session ends").contains("* BYE [UNAVAILABLE]");
            env.assertLogged(mark, "(?i)(lost|closed)");
        }
        env.dovecot.start();
        assertImapServesAgain();
        try (Wire w = imapLogin()) {
            w.send("b EXAMINE INBOX");
            w.until("b ");
            w.send("c UID FETCH " + uid + " BODY.PEEK[]");
            String head = w.line();
            Matcher lit = Pattern.compile("\\{(\\d+)\\}$").matcher(head);
            assertThat(lit.find()).as(head).isTrue();
            Exact.assertSameBytes("fetched again after the upstream came back",
                    w.read(Integer.parseInt(lit.group(1))), msg);
            assertThat(w.until("c ")).contains("c OK");
        }
    }

    @Test
    void upstreamStoppedMidRetr() throws IOException {
        byte[] msg = Messages.message(USER, USER, "big retr", BIG, 62);
        try (UpstreamMailbox m = env.mailbox(USER)) {
            m.append("INBOX", msg);
        }
        try (Wire w = pop3Login()) {
            w.send("RETR 1");
            assertThat(w.line()).startsWith("+OK");
            w.read(64 * 1024);
            long mark = env.logs.mark();
            env.dovecot.stop();
            byte[] rest = w.drain(BIG + (1 << 20));
            String tail = new String(rest, Math.max(0, rest.length - 2000), Math.min(2000, rest.length),
                    StandardCharsets.ISO_8859_1);
            assertThat(tail).as("no end of a complete message").doesNotEndWith("\r\nend.\r\n.\r\n")
                    .doesNotEndWith("<<read timed out>>");
            env.assertLogged(mark, "(?i)(lost|closed)");
            assertThat(tail).as("the client is told in POP3").contains("-ERR [SYS/TEMP]");
        }
        env.dovecot.start();
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).as("nothing deleted").isEqualTo(1);
        }
        assertPop3ServesAgain();
    }

    @Test
    void upstreamStoppedMidDataDeliversNothing() throws IOException {
        String rcpt = "mid-data@elsewhere.test";
        byte[] msg = Messages.dotStuff(Messages.message(USER, rcpt, "mid data", 8 * 1024 * 1024, 63));
        try (Wire w = smtpLogin()) {
            w.send("MAIL FROM:<" + USER + ">");
            assertThat(w.smtpReply()).startsWith("250");
            w.send("RCPT TO:<" + rcpt + ">");
            assertThat(w.smtpReply()).startsWith("250");
            w.send("DATA");
            assertThat(w.smtpReply()).startsWith("354");
            w.raw(Arrays.copyOf(msg, 1024 * 1024));
            long mark = env.logs.mark();
            env.dovecot.stop();
            String reply;
            try {
                w.raw(Arrays.copyOfRange(msg, 1024 * 1024, msg.length));
                w.raw(".\r\n".getBytes(StandardCharsets.US_ASCII));
                reply = w.smtpReply();
            } catch (IOException e) {
                // the proxy may answer and close while we are still sending
                reply = w.smtpReply();
            }
            assertThat(reply).as("DESIGN: 421 4.4.2 (upstream lost mid-session) or 451").matches("(421|451) .*");
            env.assertLogged(mark, "(?i)(lost|closed)");
        }
        env.dovecot.start();
        assertThat(env.sink.messagesTo(rcpt)).as("nothing half-delivered").isEmpty();
        assertSmtpServesAgain();
    }

    /* Once Dovecot is back, the same daemon logs in and relays again (pool retries included). */

    private void assertImapServesAgain() {
        proxy.imapPort(); // fails at once when there is no IMAP frontend
        await("IMAP serves again").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                .ignoreExceptions().untilAsserted(() -> {
                    try (Wire w = imapLogin()) {
                        w.send("b STATUS INBOX (MESSAGES)");
                        assertThat(w.until("b ")).contains("b OK");
                    }
                });
    }

    private void assertPop3ServesAgain() {
        proxy.pop3Port();
        await("POP3 serves again").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                .ignoreExceptions().untilAsserted(() -> {
                    try (Wire w = pop3Login()) {
                        w.send("STAT");
                        assertThat(w.line()).startsWith("+OK");
                    }
                });
    }

    private void assertSmtpServesAgain() {
        proxy.smtpPort();
        String rcpt = "again-" + System.nanoTime() + "@elsewhere.test";
        byte[] msg = Messages.small(USER, rcpt, "serving again");
        await("SMTP serves again").atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(500))
                .ignoreExceptions().untilAsserted(() -> {
                    try (Wire w = smtpLogin()) {
                        w.send("MAIL FROM:<" + USER + ">");
                        assertThat(w.smtpReply()).startsWith("250");
                        w.send("RCPT TO:<" + rcpt + ">");
                        assertThat(w.smtpReply()).startsWith("250");
                        w.send("DATA");
                        assertThat(w.smtpReply()).startsWith("354");
                        w.raw(Messages.dotStuff(msg)).raw(".\r\n".getBytes(StandardCharsets.US_ASCII));
                        assertThat(w.smtpReply()).startsWith("250");
                    }
                });
        assertThat(env.sink.messagesTo(rcpt)).hasSize(1);
        Exact.assertRelayed(env.sink.messagesTo(rcpt).get(0).data(), msg);
    }

    private Wire imapLogin() throws IOException {
        Wire w = Wire.proxy(proxy.imapPort());
        assertThat(w.line()).startsWith("* OK");
        w.send("a LOGIN " + CLIENT + " " + Proxy.secret(CLIENT));
        assertThat(w.until("a ")).contains("a OK");
        return w;
    }

    private Wire pop3Login() throws IOException {
        Wire w = Wire.proxy(proxy.pop3Port());
        assertThat(w.line()).startsWith("+OK");
        w.send("USER " + CLIENT);
        assertThat(w.line()).startsWith("+OK");
        w.send("PASS " + Proxy.secret(CLIENT));
        assertThat(w.line()).startsWith("+OK");
        return w;
    }

    private Wire smtpLogin() throws IOException {
        Wire w = Wire.proxy(proxy.smtpPort());
        assertThat(w.line()).startsWith("220");
        w.send("EHLO client.test");
        assertThat(w.smtpReply()).startsWith("250 ");
        w.send("AUTH PLAIN " + Wire.plain(CLIENT, Proxy.secret(CLIENT)));
        assertThat(w.smtpReply()).startsWith("235");
        return w;
    }
}
