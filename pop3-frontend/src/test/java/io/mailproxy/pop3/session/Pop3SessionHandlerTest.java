package io.mailproxy.pop3.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.spi.EvictionEvent;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamSession;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.core.FakeListener;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class Pop3SessionHandlerTest {

    private final FakeCore core = new FakeCore().client("alice", "secret", ClientConfig.Pop3Policy.DEFAULT);
    private EmbeddedChannel ch;
    private EmbeddedChannel upstream;

    /** A plaintext session whose logins get a pass-through POP3 upstream on {@link #upstream}. */
    private void openWithPassThroughUpstream() {
        upstream = new EmbeddedChannel();
        core.connect = () -> CompletableFuture.completedFuture(new UpstreamSession(
                io.mailproxy.core.Protocol.POP3, upstream, "+OK hi", Set.of("TOP", "UIDL", "USER"), Optional.empty()));
        open(false);
    }

    /** The same, with alice logged in. */
    private void loggedInPassThrough() {
        openWithPassThroughUpstream();
        send("USER alice\r\nPASS secret\r\n");
        assertThat(out()).isEqualTo("+OK Send the password\r\n+OK Logged in, maildrop ready\r\n");
    }

    private void open(boolean startTls) {
        Pop3Frontend frontend = new Pop3Frontend(core);
        FakeListener listener = new FakeListener(io.mailproxy.core.Protocol.POP3).startTls(startTls);
        ch = new EmbeddedChannel(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel c) {
                frontend.initChannel(c, listener);
            }
        });
        ch.freezeTime();
        assertThat(out()).isEqualTo("+OK mailproxy POP3 ready\r\n");
    }

    @AfterEach
    void close() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
        if (upstream != null) {
            upstream.finishAndReleaseAll();
        }
    }

    private void send(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        ch.runPendingTasks();
    }

    private String out() {
        ch.runPendingTasks();
        return drain(ch);
    }

    private static String drain(EmbeddedChannel c) {
        StringBuilder b = new StringBuilder();
        Object m;
        while ((m = c.readOutbound()) != null) {
            ByteBuf buf = (ByteBuf) m;
            b.append(buf.toString(StandardCharsets.ISO_8859_1));
            buf.release();
        }
        return b.toString();
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void capaBeforeLoginListsWhatRfc2449AndRfc5034Want() {
        open(false);
        send("CAPA\r\n");
        assertThat(out()).isEqualTo("+OK Capability list follows\r\nUSER\r\nUIDL\r\nTOP\r\nRESP-CODES\r\n"
                + "AUTH-RESP-CODE\r\nPIPELINING\r\nSASL PLAIN\r\nIMPLEMENTATION mailproxy\r\n.\r\n");
    }

    @Test
    void stlsIsOfferedOnlyWhenTheListenerHasStartTls() {
        open(true);
        send("capa\r\n");
        assertThat(out()).contains("SASL PLAIN\r\nSTLS\r\nIMPLEMENTATION");
    }

    @Test
    void stlsWithoutLocalTlsIsRefused() {
        open(false);
        send("STLS\r\n");
        assertThat(out()).isEqualTo("-ERR STLS not available\r\n");
    }

    @Test
    void wrongPasswordGivesAuthCodeAndStaysInAuthorization() {
        open(false);
        send("USER alice\r\n");
        assertThat(out()).isEqualTo("+OK Send the password\r\n");
        send("PASS wrong one\r\n");
        assertThat(out()).isEqualTo("-ERR [AUTH] Authentication failed\r\n");
        assertThat(core.logins).containsExactly("alice:wrong one");
        assertThat(core.meters.counter("mailproxy.pop3.logins", "result", "rejected").count()).isEqualTo(1.0);
        send("STAT\r\n");
        assertThat(out()).isEqualTo("-ERR Log in first\r\n");
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void aPenalisedLoginNameGetsTheTemporaryReplyNotAuthFailed() {
        core.throttled.add("alice");
        open(false);
        send("USER alice\r\nPASS secret\r\n");
        assertThat(out()).isEqualTo("+OK Send the password\r\n"
                + "-ERR [SYS/TEMP] Login slowed down after repeated failures, try again later\r\n");
        assertThat(core.meters.counter("mailproxy.pop3.logins", "result", "throttled").count()).isEqualTo(1.0);
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void threeFailedLoginsEndTheConnection() {
        open(false);
        StringBuilder guesses = new StringBuilder();
        for (int i = 1; i <= 50; i++) {
            guesses.append("USER alice\r\nPASS guess").append(i).append("\r\n");
        }
        send(guesses.toString());
        assertThat(out()).isEqualTo("+OK Send the password\r\n-ERR [AUTH] Authentication failed\r\n"
                + "+OK Send the password\r\n-ERR [AUTH] Authentication failed\r\n"
                + "+OK Send the password\r\n-ERR [AUTH] Authentication failed; too many failed logins, closing\r\n");
        assertThat(core.logins).hasSize(3);
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void passWithoutUserIsRefused() {
        open(false);
        send("PASS secret\r\n");
        assertThat(out()).isEqualTo("-ERR Send USER first\r\n");
        assertThat(core.logins).isEmpty();
    }

    @Test
    void clientThatMayNotUsePop3IsRefusedLikeAWrongPassword() {
        core.client("alice", "secret", new ClientConfig("alice", Optional.of("x"), FakeCore.ACCOUNT.name(),
                Set.of(io.mailproxy.core.Protocol.SMTP), ClientConfig.ImapPolicy.DEFAULT, ClientConfig.Pop3Policy.DEFAULT,
                ClientConfig.SmtpPolicy.DEFAULT));
        open(false);
        send("USER alice\r\nPASS secret\r\n");
        assertThat(out()).isEqualTo("+OK Send the password\r\n-ERR [AUTH] Authentication failed\r\n");
    }

    @Test
    void authPlainWithInitialResponseAndWithContinuation() {
        core.connect = () -> CompletableFuture.failedFuture(
                new UpstreamException(UpstreamException.Kind.UNREACHABLE, "connect refused"));
        open(false);
        send("AUTH PLAIN " + b64("\0alice\0nope") + "\r\n");
        assertThat(out()).isEqualTo("-ERR [AUTH] Authentication failed\r\n");
        send("AUTH PLAIN\r\n");
        assertThat(out()).isEqualTo("+ \r\n");
        send(b64("alice\0alice\0secret") + "\r\n");
        assertThat(out()).isEqualTo("-ERR [SYS/TEMP] Mailbox unavailable upstream, try again later\r\n");
        assertThat(core.logins).containsExactly("alice:nope", "alice:secret");
    }

    /**
     * RFC 4616 section 2, the rules all three frontends share: exactly two NULs and UTF-8 (else a syntax error), a
     * non-empty authcid and passwd (else the login fails, with no password checked).
     */
    @Test
    void authPlainFollowsRfc4616() {
        open(false);
        send("AUTH PLAIN " + b64("\0alice\0secret\0") + "\r\n");
        assertThat(out()).isEqualTo("-ERR Malformed AUTH PLAIN response\r\n");
        send("AUTH PLAIN " + Base64.getEncoder().encodeToString(new byte[] {0, 'a', 0, (byte) 0xC3, '('}) + "\r\n");
        assertThat(out()).isEqualTo("-ERR Malformed AUTH PLAIN response\r\n");
        send("AUTH PLAIN " + b64("\0\0secret") + "\r\n");
        assertThat(out()).isEqualTo("-ERR [AUTH] Authentication failed\r\n");
        send("AUTH PLAIN " + b64("\0alice\0") + "\r\n");
        assertThat(out()).isEqualTo("-ERR [AUTH] Authentication failed\r\n");
        send("AUTH PLAIN =\r\nAUTH PLAIN\r\n=\r\n");
        assertThat(out()).isEqualTo("-ERR Malformed AUTH PLAIN response\r\n+ \r\n"
                + "-ERR Invalid base64 in AUTH PLAIN response\r\n");
        assertThat(core.logins).isEmpty();
    }

    @Test
    void authPlainStarCancelsAndBadInputIsRefused() {
        open(false);
        send("AUTH PLAIN\r\n*\r\n");
        assertThat(out()).isEqualTo("+ \r\n-ERR Authentication cancelled\r\n");
        send("AUTH PLAIN !!!\r\n");
        assertThat(out()).isEqualTo("-ERR Invalid base64 in AUTH PLAIN response\r\n");
        send("AUTH PLAIN " + b64("bob\0alice\0secret") + "\r\n");
        assertThat(out()).isEqualTo("-ERR [AUTH] Authentication failed\r\n");
        send("AUTH CRAM-MD5\r\n");
        assertThat(out()).isEqualTo("-ERR Unsupported SASL mechanism\r\n");
        send("AUTH\r\n");
        assertThat(out()).isEqualTo("+OK\r\nPLAIN\r\n.\r\n");
        send("APOP alice 0123456789abcdef\r\n");
        assertThat(out()).isEqualTo("-ERR APOP is not supported, use USER/PASS or AUTH PLAIN\r\n");
        assertThat(core.logins).isEmpty();
    }

    @Test
    void limitReachedIsInUse() {
        core.connect = () -> CompletableFuture.failedFuture(
                new UpstreamException(UpstreamException.Kind.LIMIT_REACHED, "pool full"));
        open(false);
        send("USER alice\r\nPASS secret\r\n");
        assertThat(out()).isEqualTo(
                "+OK Send the password\r\n-ERR [IN-USE] Too many connections to this mailbox, try again later\r\n");
        assertThat(core.meters.counter("mailproxy.pop3.logins", "result", "in_use").count()).isEqualTo(1.0);
    }

    @Test
    void pipelinedCommandsWaitForTheAsynchronousLogin() {
        core.authGate = new CompletableFuture<>();
        openWithPassThroughUpstream();
        send("USER alice\r\nPASS secret\r\nSTAT\r\n");
        assertThat(out()).isEqualTo("+OK Send the password\r\n");
        core.authGate.complete(null);
        assertThat(out()).isEqualTo("+OK Logged in, maildrop ready\r\n");
        upstream.runPendingTasks();
        assertThat(drain(upstream)).isEqualTo("STAT\r\n");
        upstream.writeInbound(Unpooled.copiedBuffer("+OK 2 320\r\n", StandardCharsets.US_ASCII));
        assertThat(out()).isEqualTo("+OK 2 320\r\n");
    }

    @Test
    void overlongLinesGetErrThenTheSessionCloses() {
        open(false);
        send("NOOP " + "x".repeat(2000) + "\r\n");
        assertThat(out()).isEqualTo("-ERR Command line too long\r\n");
        send("USER " + "x".repeat(1100) + "\r\n");
        assertThat(out()).isEqualTo("-ERR Command line too long\r\n");
        assertThat(ch.isActive()).isTrue();
        send("USER " + "x".repeat(1100) + "\r\n");
        assertThat(out()).isEqualTo("-ERR Command line too long, closing\r\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void lineWithinTheToleranceIsAccepted() {
        open(false);
        send("USER " + "x".repeat(1000) + "\r\n");
        assertThat(out()).isEqualTo("+OK Send the password\r\n");
    }

    @Test
    void aConnectionThatDoesNotLogInWithinAMinuteIsClosed() {
        open(false);
        send("USER alice\r\n");
        assertThat(out()).isEqualTo("+OK Send the password\r\n");
        ch.advanceTimeBy(59, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(out()).isEmpty();
        assertThat(ch.isActive()).isTrue();
        ch.advanceTimeBy(1, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(out()).isEqualTo("-ERR Login timeout; closing\r\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void aLoginStillBeingCheckedAtTheLoginTimeoutGetsItsReply() {
        core.authGate = new CompletableFuture<>();
        openWithPassThroughUpstream();
        ch.advanceTimeBy(50, TimeUnit.SECONDS);
        send("USER alice\r\nPASS secret\r\n");
        assertThat(out()).isEqualTo("+OK Send the password\r\n");
        ch.advanceTimeBy(12, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isActive()).as("not cut off while its login is checked").isTrue();
        core.authGate.complete(null);
        assertThat(out()).isEqualTo("+OK Logged in, maildrop ready\r\n");
        ch.advanceTimeBy(10, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void idleSessionIsClosedAfterTenMinutes() {
        loggedInPassThrough();
        ch.advanceTimeBy(9, TimeUnit.MINUTES);
        ch.runScheduledPendingTasks();
        assertThat(out()).isEmpty();
        ch.advanceTimeBy(61, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(out()).isEqualTo("-ERR Autologout; idle for too long\r\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void shutdownSaysGoodbyeWithSysTemp() {
        open(false);
        ch.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE);
        assertThat(out()).isEqualTo("-ERR [SYS/TEMP] Server shutting down\r\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void evictedBeforeLoginSaysGoodbyeWithSysTemp() {
        open(false);
        ch.pipeline().fireUserEventTriggered(EvictionEvent.INSTANCE);
        assertThat(out()).isEqualTo("-ERR [SYS/TEMP] Too many connections not yet logged in\r\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void anEvictionThatCrossedTheLoginIsIgnored() {
        loggedInPassThrough();
        ch.pipeline().fireUserEventTriggered(EvictionEvent.INSTANCE);
        assertThat(out()).isEmpty();
        assertThat(ch.isActive()).isTrue();
    }

    @Test
    void theLoginTimeoutRunsFromConnectWhateverTheClientSends() {
        open(false);
        for (int i = 0; i < 3; i++) {
            ch.advanceTimeBy(20, TimeUnit.SECONDS);
            ch.runScheduledPendingTasks();
            if (ch.isActive()) {
                send("NOOP\r\n");
            }
        }
        ch.advanceTimeBy(1, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(out()).endsWith("-ERR Login timeout; closing\r\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void quitBeforeLoginSignsOff() {
        open(false);
        send("QUIT\r\nNOOP\r\n");
        assertThat(out()).isEqualTo("+OK mailproxy POP3 signing off\r\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void refusedConnectionGetsSysTempInItsOwnProtocol() {
        EmbeddedChannel refused = new EmbeddedChannel();
        try {
            new Pop3Frontend(core).refuse(refused, "too many connections");
            assertThat(drain(refused)).isEqualTo("-ERR [SYS/TEMP] too many connections\r\n");
            assertThat(refused.isActive()).isFalse();
        } finally {
            refused.finishAndReleaseAll();
        }
    }

    @Test
    void unknownCommandsAndPop3PolicyDefaults() {
        open(false);
        send("XYZZY\r\n");
        assertThat(out()).isEqualTo("-ERR Unknown command\r\n");
        assertThat(core.clients.get("alice").client().pop3().source())
                .isEqualTo(ClientConfig.Pop3Policy.Source.POP3);
    }
}
