package io.mailproxy.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.core.spi.EvictionEvent;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.smtp.codec.SmtpServerDecoder;
import io.mailproxy.smtp.session.SmtpSession;
import io.mailproxy.smtp.session.SmtpSettings;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.core.FakeListener;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The command state machine on an EmbeddedChannel: no upstream is ever needed for these. */
class SmtpSessionTest {

    private final FakeCore core = new FakeCore();
    private EmbeddedChannel ch;
    private FakeListener listener;

    private EmbeddedChannel open(Optional<String> fixed) {
        return open(Fixture.listener(fixed), null);
    }

    /** @param remote the client's address (null: EmbeddedChannel's own) */
    private EmbeddedChannel open(FakeListener fake, java.net.SocketAddress remote) {
        SmtpSettings settings = SmtpSettingsBuilder.defaults().maxMessageSize(10_485_760).maxRecipients(2).build();
        core.client("app", "s3cret", new io.mailproxy.core.config.ClientConfig("app", Optional.of("h"), Fixture.ACCOUNT_FROM,
                java.util.Set.of(io.mailproxy.core.Protocol.SMTP), io.mailproxy.core.config.ClientConfig.ImapPolicy.DEFAULT,
                io.mailproxy.core.config.ClientConfig.Pop3Policy.DEFAULT, SmtpPolicy.DEFAULT), Fixture.account());
        core.pools.failWith = new io.mailproxy.core.upstream.UpstreamException(
                io.mailproxy.core.upstream.UpstreamException.Kind.UNREACHABLE, "no upstream in this test");
        listener = fake;
        SmtpServerDecoder decoder = new SmtpServerDecoder(settings.maxLine());
        ch = remote == null ? new EmbeddedChannel() : new EmbeddedChannel() {
            @Override
            protected java.net.SocketAddress remoteAddress0() {
                return remote;
            }
        };
        ch.pipeline().addLast(decoder, new SmtpSession(core, listener, settings, decoder));
        return ch;
    }

    @AfterEach
    void close() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
    }

    /** Everything the server wrote so far. */
    private String output() {
        ch.runPendingTasks();
        StringBuilder sb = new StringBuilder();
        for (ByteBuf b; (b = ch.readOutbound()) != null; ) {
            sb.append(b.toString(StandardCharsets.UTF_8));
            b.release();
        }
        return sb.toString();
    }

    private String send(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        return output();
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void greetingAndEhloOfferOnlyTheListenersExtensions() {
        open(Optional.empty());
        assertThat(output()).isEqualTo("220 mx.test mailproxy ESMTP ready\r\n");
        assertThat(send("EHLO client.test\r\n")).isEqualTo("250-mx.test greets client.test\r\n250-PIPELINING\r\n"
                + "250-SIZE 10485760\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n"
                + "250 HELP\r\n");
        assertThat(send("HELO client.test\r\n")).isEqualTo("250 mx.test\r\n");
    }

    @Test
    void fixedClientIsLoggedInAndAuthIsNotOffered() {
        core.clients.clear();
        open(Optional.of("app"));
        assertThat(output()).startsWith("220 ");
        assertThat(listener.authenticated).hasSize(1);
        assertThat(send("EHLO x\r\n")).doesNotContain("AUTH").doesNotContain("STARTTLS");
        assertThat(send("AUTH LOGIN\r\n")).isEqualTo("503 5.5.1 Already authenticated\r\n");
    }

    private static FakeListener startTlsListener() throws Exception {
        io.netty.handler.ssl.util.SelfSignedCertificate cert = new io.netty.handler.ssl.util.SelfSignedCertificate("mx.test");
        return new FakeListener(io.mailproxy.core.Protocol.SMTP).startTls(io.netty.handler.ssl.SslContextBuilder
                .forServer(cert.certificate(), cert.privateKey()).build());
    }

    @Test
    void startTlsListenerTakesNoPasswordInPlaintextFromTheNetwork() throws Exception {
        open(startTlsListener(), new java.net.InetSocketAddress(
                java.net.InetAddress.getByAddress(new byte[] {(byte) 192, 0, 2, 7}), 40000));
        output();
        assertThat(send("EHLO x\r\n")).isEqualTo("250-mx.test greets x\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n"
                + "250-8BITMIME\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250 HELP\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n"))
                .isEqualTo("530 5.7.0 Must issue a STARTTLS command first\r\n");
        assertThat(send("AUTH LOGIN\r\n")).isEqualTo("530 5.7.0 Must issue a STARTTLS command first\r\n");
        assertThat(send("MAIL FROM:<a@b.example>\r\n")).isEqualTo("530 5.7.0 Authentication required\r\n");
        assertThat(listener.authenticated).isEmpty();
    }

    @Test
    void startTlsListenerTakesPlaintextPasswordsFromLoopback() throws Exception {
        open(startTlsListener(), new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 40000));
        output();
        assertThat(send("EHLO x\r\n")).contains("250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n")).isEqualTo("235 2.7.0 Authentication successful\r\n");
    }

    /** The 220 to STARTTLS cannot be sent: reading was paused for the TLS switch, so the session closes. */
    @Test
    void startTlsWhoseReplyCannotBeSentClosesTheConnection() throws Exception {
        open(startTlsListener(), new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 40000));
        output();
        ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
                if (msg instanceof ByteBuf b && b.toString(StandardCharsets.US_ASCII).startsWith("220 2.0.0")) {
                    b.release();
                    promise.setFailure(new java.io.IOException("connection reset by peer"));
                    return;
                }
                ctx.write(msg, promise);
            }
        });
        assertThat(send("EHLO x\r\n")).contains("250-STARTTLS\r\n");
        assertThat(send("STARTTLS\r\n")).isEmpty();
        assertThat(ch.isOpen()).isFalse();
        assertThat(ch.pipeline().get(io.netty.handler.ssl.SslHandler.class)).isNull();
    }

    @Test
    void authPlainWithInitialResponse() {
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n")).isEqualTo("235 2.7.0 Authentication successful\r\n");
        assertThat(listener.authenticated).hasSize(1);
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n")).isEqualTo("503 5.5.1 Already authenticated\r\n");
    }

    @Test
    void authPlainWithContinuationAndWrongPassword() {
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        assertThat(send("AUTH PLAIN\r\n")).isEqualTo("334 \r\n");
        assertThat(send(b64("\0app\0wrong") + "\r\n")).isEqualTo("535 5.7.8 Authentication credentials invalid\r\n");
        assertThat(send("AUTH PLAIN\r\n")).isEqualTo("334 \r\n");
        assertThat(send(b64("app\0app\0s3cret") + "\r\n")).isEqualTo("235 2.7.0 Authentication successful\r\n");
    }

    @Test
    void aPenalisedLoginNameGetsTheTemporaryReplyNot535() {
        core.throttled.add("app");
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n"))
                .isEqualTo("454 4.7.0 Login slowed down after repeated failures, try again later\r\n");
        assertThat(ch.isOpen()).isTrue();
    }

    @Test
    void threeFailedLoginsEndTheConnection() {
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        StringBuilder guesses = new StringBuilder();
        for (int i = 1; i <= 50; i++) {
            guesses.append("AUTH PLAIN ").append(b64("\0app\0guess" + i)).append("\r\n");
        }
        assertThat(send(guesses.toString())).isEqualTo("535 5.7.8 Authentication credentials invalid\r\n"
                + "535 5.7.8 Authentication credentials invalid\r\n"
                + "535 5.7.8 Authentication credentials invalid\r\n"
                + "421 4.7.0 mx.test Too many failed logins, closing connection\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void authPlainForAnotherIdentityIsRefused() {
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        assertThat(send("AUTH PLAIN " + b64("boss\0app\0s3cret") + "\r\n")).isEqualTo("535 5.7.8 Authentication credentials invalid\r\n");
    }

    /**
     * RFC 4616 section 2, the rules all three frontends share: exactly two NULs and UTF-8 (else 501, the response
     * cannot be decoded), a non-empty authcid and passwd (else 535); {@code =} stands for an empty response only as
     * the initial one (RFC 4954 section 4).
     */
    @Test
    void authPlainFollowsRfc4616() {
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret\0") + "\r\n"))
                .isEqualTo("501 5.5.2 Cannot decode response: PLAIN response without exactly two NULs\r\n");
        assertThat(send("AUTH PLAIN " + Base64.getEncoder().encodeToString(new byte[] {0, 'a', 0, (byte) 0xC3, '('})
                + "\r\n")).isEqualTo("501 5.5.2 Cannot decode response: PLAIN response is not UTF-8\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0\0s3cret") + "\r\n")).isEqualTo("535 5.7.8 Authentication credentials invalid\r\n");
        assertThat(send("AUTH PLAIN " + b64("app\0app\0") + "\r\n")).isEqualTo("535 5.7.8 Authentication credentials invalid\r\n");
        assertThat(send("AUTH LOGIN\r\n")).isEqualTo("334 VXNlcm5hbWU6\r\n");
        assertThat(send("=\r\n")).isEqualTo("501 5.5.2 Cannot decode response: not base64\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n")).isEqualTo("235 2.7.0 Authentication successful\r\n");
    }

    @Test
    void authLoginStepsAndCancel() {
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        assertThat(send("AUTH LOGIN\r\n")).isEqualTo("334 VXNlcm5hbWU6\r\n");
        assertThat(send(b64("app") + "\r\n")).isEqualTo("334 UGFzc3dvcmQ6\r\n");
        assertThat(send("*\r\n")).isEqualTo("501 5.7.0 Authentication cancelled\r\n");
        assertThat(send("AUTH LOGIN " + b64("app") + "\r\n")).isEqualTo("334 UGFzc3dvcmQ6\r\n");
        assertThat(send(b64("s3cret") + "\r\n")).isEqualTo("235 2.7.0 Authentication successful\r\n");
    }

    @Test
    void authErrors() {
        open(Optional.empty());
        output();
        assertThat(send("AUTH PLAIN\r\n")).isEqualTo("503 5.5.1 Send EHLO first\r\n");
        send("EHLO x\r\n");
        assertThat(send("AUTH CRAM-MD5\r\n")).isEqualTo("504 5.5.4 Unrecognized authentication type\r\n");
        assertThat(send("AUTH PLAIN\r\n")).isEqualTo("334 \r\n");
        assertThat(send("%%%\r\n")).startsWith("501 5.5.2 ");
    }

    @Test
    void commandsOutOfOrder() {
        open(Optional.empty());
        output();
        assertThat(send("MAIL FROM:<a@b.example>\r\n")).isEqualTo("503 5.5.1 Send EHLO or HELO first\r\n");
        send("EHLO x\r\n");
        assertThat(send("MAIL FROM:<a@b.example>\r\n")).isEqualTo("530 5.7.0 Authentication required\r\n");
        assertThat(send("RCPT TO:<a@b.example>\r\n")).isEqualTo("503 5.5.1 Need MAIL command first\r\n");
        assertThat(send("DATA\r\n")).isEqualTo("503 5.5.1 Need MAIL command first\r\n");
        assertThat(send("BDAT 10 LAST\r\n")).startsWith("502 5.5.1");
        assertThat(send("STARTTLS\r\n")).isEqualTo("502 5.5.1 STARTTLS not available\r\n");
    }

    @Test
    void mailParametersAreCheckedBeforeAnyUpstreamWork() {
        open(Optional.empty());
        output();
        send("EHLO x\r\nAUTH PLAIN " + b64("\0app\0s3cret") + "\r\n");
        assertThat(send("MAIL FROM:<a@b.example> RET=HDRS\r\n")).isEqualTo("555 5.5.4 Unsupported parameter RET\r\n");
        assertThat(send("MAIL FROM:<a@b.example> BODY=BINARYMIME\r\n")).isEqualTo("555 5.5.4 Unsupported BODY type\r\n");
        assertThat(send("MAIL FROM:<a@b.example> SIZE=99999999999\r\n")).startsWith("552 5.3.4 ");
        assertThat(send("MAIL FROM:<a@b.example> SIZE=abc\r\n")).startsWith("501 5.5.4 ");
        assertThat(send("MAIL FROM:<jörg@b.example>\r\n")).isEqualTo("553 5.6.7 Non-ASCII address requires SMTPUTF8\r\n");
        assertThat(send("MAIL FROM:a b\r\n")).startsWith("501 5.5.4 ");
        // the fake pool says the upstream is down
        assertThat(send("MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME\r\n")).startsWith("451 4.4.1 ");
    }

    @Test
    void clientTextEchoedInRepliesLosesItsControlCharacters() {
        open(Optional.empty());
        output();
        assertThat(send("EHLO a\rb\r\n")).isEqualTo("501 5.5.4 Invalid domain name\r\n");
        assertThat(send("EHLO a\0b\r\n")).isEqualTo("501 5.5.4 Invalid domain name\r\n");
        assertThat(send("EHLO scanner_01\r\n")).as("legacy odd names still pass").startsWith("250-mx.test greets scanner_01\r\n");
        send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n");
        assertThat(send("MAIL FROM:<a@b.example> X=1\r2\u0085\r\n"))
                .isEqualTo("501 5.5.4 Syntax: MAIL FROM:<address> (bad parameter X=1?2?)\r\n");
        assertThat(send("MAIL FROM:<a@b.example> SMTPUTF8=\u0001\r\n")).isEqualTo(
                "501 5.5.4 Syntax: MAIL FROM:<address> (bad parameter SMTPUTF8=?)\r\n");
    }

    @Test
    void heloSessionRefusesEsmtpParameters() {
        open(Optional.empty());
        output();
        send("HELO x\r\nAUTH PLAIN " + b64("\0app\0s3cret") + "\r\n");
        assertThat(send("MAIL FROM:<a@b.example> SIZE=10\r\n")).isEqualTo("555 5.5.4 Unsupported parameter SIZE\r\n");
    }

    @Test
    void simpleCommands() {
        open(Optional.empty());
        output();
        assertThat(send("NOOP\r\n")).isEqualTo("250 2.0.0 OK\r\n");
        assertThat(send("VRFY postmaster\r\n")).startsWith("252 2.5.0 ");
        assertThat(send("HELP\r\n")).startsWith("214 2.0.0 ");
        assertThat(send("RSET\r\n")).isEqualTo("250 2.0.0 OK\r\n");
        assertThat(send("FOO\r\n")).isEqualTo("500 5.5.1 Command unrecognized\r\n");
        assertThat(send("EHLO\r\n")).isEqualTo("501 5.5.4 Syntax: EHLO hostname\r\n");
        assertThat(send("QUIT\r\n")).isEqualTo("221 2.0.0 mx.test closing connection\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void pipelinedLocalCommandsAnswerInOrder() {
        open(Optional.empty());
        output();
        assertThat(send("EHLO x\r\nNOOP\r\nFOO\r\nQUIT\r\nNOOP\r\n")).endsWith("250 HELP\r\n250 2.0.0 OK\r\n"
                + "500 5.5.1 Command unrecognized\r\n221 2.0.0 mx.test closing connection\r\n");
    }

    @Test
    void lineTooLong() {
        open(Optional.empty());
        output();
        assertThat(send("NOOP " + "x".repeat(1000) + "\r\nNOOP\r\n")).isEqualTo("500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n");
    }

    @Test
    void preLoginTimeoutSaysGoodbye() {
        open(Optional.empty());
        output();
        ch.advanceTimeBy(59, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(output()).isEmpty();
        ch.advanceTimeBy(2, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(output()).isEqualTo("421 4.4.2 mx.test Timeout waiting for client input, closing connection\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    /** After login (before it, the login timeout runs from connect: see below). */
    @Test
    void commandsResetTheIdleTimer() {
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n")).startsWith("235 ");
        ch.advanceTimeBy(4, TimeUnit.MINUTES);
        ch.runScheduledPendingTasks();
        send("NOOP\r\n");
        ch.advanceTimeBy(4, TimeUnit.MINUTES);
        ch.runScheduledPendingTasks();
        assertThat(output()).isEmpty();
        assertThat(ch.isOpen()).isTrue();
        ch.advanceTimeBy(61, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(output()).isEqualTo("421 4.4.2 mx.test Timeout waiting for client input, closing connection\r\n");
    }

    /**
     * A client that does not read: its replies stay queued, the decoder stops reading it, and the idle timer says
     * goodbye. That 421 never leaves either, so the close cannot wait for it for ever.
     */
    @Test
    void goodbyeToAClientThatDoesNotReadClosesAfterTheTimeoutAnyway() {
        open(Optional.empty());
        output();
        java.util.List<Object> held = new java.util.ArrayList<>();
        ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void write(io.netty.channel.ChannelHandlerContext ctx, Object msg, io.netty.channel.ChannelPromise promise) {
                held.add(msg); // never written: the client's window stays shut
            }
        });
        try {
            ch.advanceTimeBy(61, TimeUnit.SECONDS);
            ch.runScheduledPendingTasks();
            assertThat(held).hasSize(1);
            assertThat(((ByteBuf) held.get(0)).toString(StandardCharsets.US_ASCII))
                    .isEqualTo("421 4.4.2 mx.test Timeout waiting for client input, closing connection\r\n");
            assertThat(ch.isOpen()).isTrue();
            ch.advanceTimeBy(61, TimeUnit.SECONDS);
            ch.runScheduledPendingTasks();
            assertThat(ch.isOpen()).isFalse();
        } finally {
            held.forEach(io.netty.util.ReferenceCountUtil::release);
        }
    }

    @Test
    void shutdownSaysGoodbyeWhenIdle() {
        open(Optional.empty());
        output();
        ch.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE);
        assertThat(output()).isEqualTo("421 4.3.2 mx.test Service shutting down\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    /** Issue 13: NOOPs every 20 s used to hold a pre-login slot for ever; the login timeout runs from connect. */
    @Test
    void theLoginTimeoutRunsFromConnectWhateverTheClientSends() {
        open(Optional.empty());
        output();
        for (int i = 0; i < 2; i++) {
            ch.advanceTimeBy(20, TimeUnit.SECONDS);
            ch.runScheduledPendingTasks();
            assertThat(send("NOOP\r\n")).isEqualTo("250 2.0.0 OK\r\n");
        }
        ch.advanceTimeBy(19, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(send("NOOP\r\n")).isEqualTo("250 2.0.0 OK\r\n");
        ch.advanceTimeBy(2, TimeUnit.SECONDS);
        ch.runScheduledPendingTasks();
        assertThat(output()).isEqualTo("421 4.4.2 mx.test No login within 60 seconds, closing connection\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void theLoginTimeoutEndsWithTheLogin() {
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n")).startsWith("235 ");
        for (int i = 0; i < 4; i++) {
            ch.advanceTimeBy(20, TimeUnit.SECONDS);
            ch.runScheduledPendingTasks();
            assertThat(send("NOOP\r\n")).isEqualTo("250 2.0.0 OK\r\n");
        }
        assertThat(ch.isOpen()).isTrue();
    }

    @Test
    void evictedBeforeLoginSaysGoodbye() {
        open(Optional.empty());
        output();
        ch.pipeline().fireUserEventTriggered(EvictionEvent.INSTANCE);
        assertThat(output()).isEqualTo("421 4.7.0 mx.test Too many connections not yet logged in\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void anEvictionThatCrossedTheLoginIsIgnored() {
        open(Optional.empty());
        output();
        send("EHLO x\r\n");
        assertThat(send("AUTH PLAIN " + b64("\0app\0s3cret") + "\r\n")).startsWith("235 ");
        ch.pipeline().fireUserEventTriggered(EvictionEvent.INSTANCE);
        assertThat(output()).isEmpty();
        assertThat(send("NOOP\r\n")).isEqualTo("250 2.0.0 OK\r\n");
    }

    @Test
    void httpRequestIsTurnedAway() {
        open(Optional.empty());
        output();
        assertThat(send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).startsWith("421 4.7.0 ");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void tooManyErrorsCloseTheSession() {
        open(Optional.empty());
        output();
        String out = send("BAD\r\n".repeat(25));
        assertThat(out).endsWith("421 4.7.0 mx.test Too many errors, closing connection\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void clientThatDoesNotReadItsRepliesIsNotReadEither() {
        open(Optional.empty());
        output();
        ch.unsafe().outboundBuffer().setUserDefinedWritability(1, false); // the client's window is full
        assertThat(send("NOOP\r\n".repeat(10) + "EHLO x\r\n".repeat(10))).isEmpty();
        ch.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
        String out = output();
        assertThat(out.split("250 2.0.0 OK\r\n", -1)).hasSize(11);
        assertThat(out).startsWith("250 2.0.0 OK\r\n").endsWith("250 HELP\r\n");
        assertThat(out.split("greets x", -1)).hasSize(11);
    }

    @Test
    void repliesBeyondTheHighWaterMarkWaitForTheFlushAndAllArrive() {
        open(Optional.empty());
        output();
        ch.config().setWriteBufferWaterMark(new io.netty.channel.WriteBufferWaterMark(64, 256));
        String out = send("EHLO x\r\n".repeat(40) + "NOOP\r\n");
        assertThat(out.split("greets x", -1)).hasSize(41);
        assertThat(out).endsWith("250 HELP\r\n250 2.0.0 OK\r\n");
    }

    @Test
    void floodOfCommandsThatMoveNothingForwardEndsLikeAFloodOfErrors() {
        open(Optional.empty());
        output();
        send("EHLO x\r\nAUTH PLAIN " + b64("\0app\0s3cret") + "\r\n");
        assertThat(send("NOOP\r\nRSET\r\nVRFY x\r\nHELP\r\n".repeat(25))).doesNotContain("421");
        // a MAIL starts the count again (the fake pool says the upstream is down)
        assertThat(send("MAIL FROM:<a@b.example>\r\n")).startsWith("451 4.4.1 ");
        assertThat(send("NOOP\r\n".repeat(119))).doesNotContain("421");
        assertThat(ch.isOpen()).isTrue();
        assertThat(send("NOOP\r\n")).isEqualTo("250 2.0.0 OK\r\n421 4.7.0 mx.test Too many errors, closing connection\r\n");
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void passwordsNeverReachTheLog() {
        Logger root = (Logger)
                org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Level level = root.getLevel();
        ListAppender<ILoggingEvent> appender = new ListAppender<>();
        appender.start();
        root.addAppender(appender);
        root.setLevel(Level.DEBUG);
        try {
            open(Optional.empty());
            output();
            send("EHLO x\r\n");
            assertThat(send("AUTH PLAIN " + b64("\0app\0Wr0ngPassw0rd") + "\r\n")).startsWith("535 ");
            assertThat(send("AUTH LOGIN " + b64("app") + "\r\n")).startsWith("334 ");
            assertThat(send(b64("s3cret") + "\r\n")).startsWith("235 ");
        } finally {
            root.detachAppender(appender);
            root.setLevel(level);
        }
        assertThat(appender.list).isNotEmpty();
        for (ILoggingEvent e : appender.list) {
            assertThat(e.getFormattedMessage()).doesNotContain("Wr0ngPassw0rd").doesNotContain("s3cret")
                    .doesNotContain(b64("s3cret")).doesNotContain(b64("\0app\0Wr0ngPassw0rd"));
        }
    }
}
