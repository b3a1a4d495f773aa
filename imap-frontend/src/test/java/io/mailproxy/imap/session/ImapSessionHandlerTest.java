package io.mailproxy.imap.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.spi.EvictionEvent;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.imap.Harness;
import io.mailproxy.testkit.core.FakeLease;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ImapSessionHandlerTest {

    private static final String CAPS = "IMAP4rev1 LITERAL+ SASL-IR ID AUTH=PLAIN";
    private final Harness h = new Harness();

    @AfterEach
    void close() {
        h.close();
    }

    private Harness withAlice() {
        h.core.client("alice", "secret", ClientConfig.ImapPolicy.DEFAULT, Protocol.IMAP, Protocol.POP3);
        h.core.client("bob", "pw", ClientConfig.ImapPolicy.DEFAULT, Protocol.POP3);
        return h;
    }

    @Test
    void greetsWithTheListenersCapabilities() {
        h.start();
        assertThat(h.received()).isEqualTo("* OK [CAPABILITY " + CAPS + "] mailproxy ready\r\n");
        h.send("c1 CAPABILITY\r\n");
        assertThat(h.received()).isEqualTo("* CAPABILITY " + CAPS + "\r\nc1 OK CAPABILITY completed\r\n");
    }

    @Test
    void offersStartTlsOnlyWhenTheListenerHasIt() {
        h.listener.startTls = true;
        h.start();
        assertThat(h.received()).isEqualTo("* OK [CAPABILITY IMAP4rev1 STARTTLS LITERAL+ SASL-IR ID AUTH=PLAIN] mailproxy ready\r\n");
    }

    @Test
    void startTlsIsRefusedWithoutLocalTls() {
        h.start().received();
        h.send("t1 STARTTLS\r\n");
        assertThat(h.received()).isEqualTo("t1 BAD STARTTLS is not available\r\n");
    }

    @Test
    void noopIdAndLogout() {
        h.start().received();
        h.send("n1 NOOP\r\nn2 ID (\"name\" \"scanner\")\r\n");
        assertThat(h.received()).isEqualTo("n1 OK NOOP completed\r\n* ID (\"name\" \"mailproxy\")\r\nn2 OK ID completed\r\n");
        h.send("n3 LOGOUT\r\n");
        assertThat(h.received()).isEqualTo("* BYE Logging out\r\nn3 OK LOGOUT completed\r\n");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void commandsNeedingLoginAreRefused() {
        h.start().received();
        h.send("s1 SELECT INBOX\r\nx\r\n");
        assertThat(h.received()).isEqualTo("s1 BAD SELECT needs a login first\r\nx BAD Missing command\r\n");
    }

    @Test
    void wrongPasswordFails() {
        withAlice().start().received();
        h.send("a1 LOGIN alice wrong\r\n");
        assertThat(h.received()).isEqualTo("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
        assertThat(h.core.handedOut).isEmpty();
        h.send("a2 NOOP\r\n");
        assertThat(h.received()).isEqualTo("a2 OK NOOP completed\r\n");
    }

    @Test
    void aPenalisedLoginNameGetsTheTemporaryReplyNotAuthenticationFailed() {
        withAlice().core.throttled.add("alice");
        h.start().received();
        h.send("a1 LOGIN alice secret\r\n");
        assertThat(h.received()).isEqualTo(
                "a1 NO [UNAVAILABLE] Login slowed down after repeated failures, try again later\r\n");
        assertThat(h.client.isOpen()).isTrue();
    }

    @Test
    void threeFailedLoginsEndTheConnection() {
        withAlice().start().received();
        StringBuilder guesses = new StringBuilder();
        for (int i = 1; i <= 50; i++) {
            guesses.append("g").append(i).append(" LOGIN alice guess").append(i).append("\r\n");
        }
        h.send(guesses.toString());
        assertThat(h.received()).isEqualTo("g1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
                + "g2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
                + "g3 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
                + "* BYE Too many failed logins\r\n");
        assertThat(h.client.isOpen()).isFalse();
        assertThat(h.core.logins).hasSize(3);
    }

    @Test
    void slowedDownLoginsCountAsFailures() {
        withAlice().core.throttled.add("alice");
        h.start().received();
        h.send("a1 LOGIN alice secret\r\na2 LOGIN bob pw\r\na3 LOGIN alice secret\r\na4 LOGIN alice secret\r\n");
        assertThat(h.received()).isEqualTo(
                "a1 NO [UNAVAILABLE] Login slowed down after repeated failures, try again later\r\n"
                + "a2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
                + "a3 NO [UNAVAILABLE] Login slowed down after repeated failures, try again later\r\n"
                + "* BYE Too many failed logins\r\n");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void clientWithoutImapFails() {
        withAlice().start().received();
        h.send("a1 LOGIN bob pw\r\n");
        assertThat(h.received()).isEqualTo("a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    }

    @Test
    void loginAnswersWithTheUpstreamsRewrittenCapabilities() {
        withAlice().core.nextLease(h.upstream, "IMAP4REV1", "STARTTLS", "AUTH=XOAUTH2", "SASL-IR", "LITERAL+", "IDLE",
                "COMPRESS=DEFLATE", "LOGINDISABLED");
        h.start().received();
        h.send("a1 LOGIN alice \"secret\"\r\n");
        String reply = h.received();
        assertThat(reply).startsWith("a1 OK [CAPABILITY IMAP4rev1 ").endsWith("] Logged in\r\n");
        String caps = reply.substring("a1 OK [CAPABILITY ".length(), reply.indexOf(']'));
        assertThat(caps.split(" ")).containsExactlyInAnyOrder("IMAP4rev1", "LITERAL+", "IDLE");
        assertThat(h.listener.authenticated).containsExactly(h.client);
        assertThat(h.core.logins).containsExactly("alice:secret");
    }

    @Test
    void upstreamWithoutLiteralPlusIsNotAdvertisedWithIt() {
        withAlice().core.nextLease(h.upstream, "IMAP4REV1", "IDLE");
        h.start().received();
        h.send("a1 LOGIN alice secret\r\n");
        assertThat(h.received()).isEqualTo("a1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
    }

    @Test
    void loginWithLiterals() {
        withAlice().core.nextLease(h.upstream, "IMAP4REV1");
        h.start().received();
        h.send("a1 LOGIN {5}\r\n");
        assertThat(h.received()).isEqualTo("+ Ready for literal data\r\n");
        h.send("alice {6+}\r\nsecret\r\n");
        assertThat(h.received()).isEqualTo("a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
    }

    @Test
    void authenticatePlainInline() {
        withAlice().core.nextLease(h.upstream, "IMAP4REV1");
        h.start().received();
        String ir = Base64.getEncoder().encodeToString("\0alice\0secret".getBytes(StandardCharsets.UTF_8));
        h.send("p1 AUTHENTICATE PLAIN " + ir + "\r\n");
        assertThat(h.received()).isEqualTo("p1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
    }

    @Test
    void authenticatePlainWithContinuationAndCancel() {
        withAlice().core.nextLease(h.upstream, "IMAP4REV1");
        h.start().received();
        h.send("p1 AUTHENTICATE PLAIN\r\n");
        assertThat(h.received()).isEqualTo("+ \r\n");
        h.send("*\r\n");
        assertThat(h.received()).isEqualTo("p1 BAD AUTHENTICATE cancelled\r\n");
        h.send("p2 AUTHENTICATE PLAIN\r\n");
        assertThat(h.received()).isEqualTo("+ \r\n");
        h.send(Base64.getEncoder().encodeToString("alice\0alice\0secret".getBytes(StandardCharsets.UTF_8)) + "\r\n");
        assertThat(h.received()).isEqualTo("p2 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
    }

    @Test
    void authenticateOtherMechanismAndBadPlain() {
        withAlice().start().received();
        h.send("p1 AUTHENTICATE XOAUTH2 abc\r\np2 AUTHENTICATE PLAIN !!!\r\np3 AUTHENTICATE PLAIN "
                + Base64.getEncoder().encodeToString("\0alice\0nope".getBytes(StandardCharsets.UTF_8)) + "\r\n");
        assertThat(h.received()).isEqualTo("p1 NO Unsupported authentication mechanism\r\n"
                + "p2 BAD Invalid base64 in SASL response\r\n"
                + "p3 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
    }

    /**
     * RFC 4616 section 2, the rules all three frontends share: exactly two NULs and UTF-8 (else BAD, the syntax is
     * wrong), a non-empty authcid and passwd (else the login fails, with no password checked); {@code =} stands for
     * an empty response only as the initial one (RFC 4959).
     */
    @Test
    void authenticatePlainFollowsRfc4616() {
        withAlice().start().received();
        h.send("p1 AUTHENTICATE PLAIN " + b64("\0alice\0secret\0") + "\r\n"
                + "p2 AUTHENTICATE PLAIN " + Base64.getEncoder().encodeToString(new byte[] {0, 'a', 0, (byte) 0xC3, '('})
                + "\r\np3 AUTHENTICATE PLAIN " + b64("\0\0secret") + "\r\n"
                + "p4 AUTHENTICATE PLAIN " + b64("\0alice\0") + "\r\n");
        assertThat(h.received()).isEqualTo("p1 BAD Invalid PLAIN response\r\n"
                + "p2 BAD Invalid PLAIN response\r\n"
                + "p3 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
                + "p4 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
        h.send("p5 AUTHENTICATE PLAIN\r\n");
        assertThat(h.received()).isEqualTo("+ \r\n");
        h.send("=\r\n");
        assertThat(h.received()).isEqualTo("p5 BAD Invalid base64 in SASL response\r\n");
        assertThat(h.core.logins).isEmpty();
    }

    private static String b64(String text) {
        return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void poolAtLimitGivesLimit() {
        withAlice().core.nextFailure(new UpstreamException(UpstreamException.Kind.LIMIT_REACHED, "8 of 8 in use"));
        h.start().received();
        h.send("a1 LOGIN alice secret\r\n");
        assertThat(h.received()).isEqualTo("a1 NO [LIMIT] Too many connections to this mailbox, try again later\r\n");
    }

    @Test
    void upstreamProblemsGiveUnavailable() {
        withAlice();
        for (UpstreamException.Kind kind : new UpstreamException.Kind[] {UpstreamException.Kind.UNREACHABLE,
                UpstreamException.Kind.TLS_FAILURE, UpstreamException.Kind.CREDENTIALS_REJECTED,
                UpstreamException.Kind.CREDENTIALS_UNAVAILABLE, UpstreamException.Kind.TIMED_OUT}) {
            h.core.nextFailure(new UpstreamException(kind, "failed", "a NO AUTHENTICATE failed", null));
        }
        h.start().received();
        for (int i = 0; i < 5; i++) {
            h.send("a" + i + " LOGIN alice secret\r\n");
            assertThat(h.received()).isEqualTo("a" + i + " NO [UNAVAILABLE] The mail server is not available, try again later\r\n");
        }
        assertThat(h.listener.authenticated).isEmpty();
    }

    @Test
    void overlongLineBeforeLoginIsBadAndCloses() {
        h.start().received();
        h.send("a1 LOGIN " + "x".repeat(70_000) + "\r\n");
        assertThat(h.received()).isEqualTo("a1 BAD Command line too long\r\n* BYE Command line too long, closing\r\n");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void largeLiteralBeforeLoginIsBadAndCloses() {
        h.start().received();
        h.send("a1 LOGIN {9000}\r\n");
        assertThat(h.received()).isEqualTo("a1 BAD Literal too large\r\n* BYE Literal too large, closing\r\n");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void loginTimeoutCloses() {
        h.start().received();
        h.client.advanceTimeBy(59, TimeUnit.SECONDS);
        h.client.runScheduledPendingTasks();
        assertThat(h.received()).isEmpty();
        h.client.advanceTimeBy(2, TimeUnit.SECONDS);
        h.client.runScheduledPendingTasks();
        assertThat(h.received()).isEqualTo("* BYE Autologout; no login within 60 seconds\r\n");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void shutdownBeforeLoginSaysByeAtOnce() {
        h.start().received();
        h.client.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE);
        assertThat(h.received()).isEqualTo("* BYE [UNAVAILABLE] Server shutting down\r\n");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void theLoginTimeoutRunsFromConnectWhateverTheClientSends() {
        h.start().received();
        for (int i = 0; i < 3; i++) {
            h.client.advanceTimeBy(20, TimeUnit.SECONDS);
            h.client.runScheduledPendingTasks();
            if (h.client.isOpen()) {
                h.send("n" + i + " NOOP\r\n");
            }
        }
        h.client.advanceTimeBy(1, TimeUnit.SECONDS);
        h.client.runScheduledPendingTasks();
        assertThat(h.received()).endsWith("* BYE Autologout; no login within 60 seconds\r\n");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void evictedBeforeLoginSaysByeAtOnce() {
        h.start().received();
        h.client.pipeline().fireUserEventTriggered(EvictionEvent.INSTANCE);
        assertThat(h.received())
                .isEqualTo("* BYE [UNAVAILABLE] Too many connections not yet logged in\r\n");
        assertThat(h.client.isOpen()).isFalse();
    }

    @Test
    void anEvictionThatCrossedTheLoginIsIgnored() {
        withAlice().core.nextLease(h.upstream, "IMAP4REV1");
        h.start().received();
        h.send("a1 LOGIN alice secret\r\n");
        assertThat(h.received()).isEqualTo("a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
        h.client.pipeline().fireUserEventTriggered(EvictionEvent.INSTANCE);
        assertThat(h.received()).isEmpty();
        assertThat(h.client.isOpen()).isTrue();
    }

    @Test
    void commandsPipelinedAfterLoginAreRelayed() {
        FakeLease lease = withAlice().core.nextLease(h.upstream, "IMAP4REV1");
        h.start().received();
        h.send("a1 LOGIN alice secret\r\na2 SELECT INBOX\r\n");
        assertThat(h.received()).isEqualTo("a1 OK [CAPABILITY IMAP4rev1] Logged in\r\n");
        assertThat(h.upstreamGot()).isEqualTo("a2 SELECT INBOX\r\n");
        assertThat(lease.endings).isEmpty();
    }

    @Test
    void nothingSentInPlaintextAfterStartTlsIsUsed() throws Exception {
        io.netty.handler.ssl.util.SelfSignedCertificate cert = new io.netty.handler.ssl.util.SelfSignedCertificate("localhost");
        try {
            h.listener.startTls = true;
            h.listener.ssl = io.netty.handler.ssl.SslContextBuilder.forServer(cert.certificate(), cert.privateKey())
                    .build().newHandler(h.client.alloc());
            withAlice().core.nextLease(h.upstream, "IMAP4REV1");
            h.start().received();
            h.send("a STARTTLS\r\nb LOGIN alice secret\r\nc NOOP\r\nd LOG");
            assertThat(h.received()).isEqualTo("a OK Begin TLS negotiation now\r\n");
            assertThat(h.client.pipeline().first()).isSameAs(h.listener.ssl);
            assertThat(h.core.logins).as("b LOGIN was sent in plaintext after STARTTLS").isEmpty();
            assertThat(h.listener.authenticated).isEmpty();
            assertThat(h.core.logins).as("b LOGIN was sent in plaintext after STARTTLS").isEmpty();
            assertThat(h.core.handedOut).isEmpty();
        } finally {
            cert.delete();
        }
    }

    @Test
    void authenticatePlainWithoutAStringResponseIsBad() {
        withAlice().start().received();
        h.send("x1 AUTHENTICATE PLAIN NIL\r\nx2 AUTHENTICATE PLAIN (x)\r\nx3 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA== x\r\n"
                + "x4 NOOP\r\n");
        assertThat(h.received()).isEqualTo("x1 BAD Invalid initial response\r\nx2 BAD Invalid initial response\r\n"
                + "x3 BAD Invalid initial response\r\nx4 OK NOOP completed\r\n");
        assertThat(h.client.isOpen()).isTrue();
        assertThat(h.core.logins).isEmpty();
    }

    @Test
    void aClientThatDoesNotReadIsNotReadFrom() {
        h.start().received();
        ReadCounter counter = new ReadCounter();
        h.client.pipeline().addFirst(counter);
        h.client.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
        h.send("n1 NOOP\r\n");
        assertThat(counter.reads).as("not read while its replies are not taken").isZero();
        h.client.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        h.settle();
        assertThat(counter.reads).isEqualTo(1);
        assertThat(h.received()).isEqualTo("n1 OK NOOP completed\r\n");
    }

    /** Counts the read() calls the handlers make on the client channel (AUTO_READ is off). */
    private static final class ReadCounter extends io.netty.channel.ChannelOutboundHandlerAdapter {
        int reads;

        @Override
        public void read(io.netty.channel.ChannelHandlerContext ctx) {
            reads++;
            ctx.read();
        }
    }
}
