package io.mailproxy.smtp;

import static io.mailproxy.smtp.SmtpTestClient.expect;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.testkit.core.FakeListener;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Whole transactions through the proxy to a scripted upstream, over real loopback sockets. */
class SmtpRelayTest {

    private Fixture fx;

    @BeforeEach
    void start() throws Exception {
        fx = new Fixture();
    }

    @AfterEach
    void stop() throws Exception {
        fx.close();
    }

    private static final String BODY = "From: App <app@legacy.example>\r\nTo: boss@contoso.com\r\nSubject: report\r\n\r\n"
            + "line one\r\n..a stuffed line\r\n.\u00e9 8-bit\r\n\r\n" + "x".repeat(998) + "\r\nlast line\r\n";

    @Test
    void relaysOneMessageByteForByteAndAnswersWithTheUpstreamsFinalReply() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example> SIZE=" + BODY.length() + " BODY=8BITMIME"), "250 2.1.0");
            expect(c.command("RCPT TO:<boss@contoso.com>"), "250 2.1.5");
            expect(c.command("DATA"), "354 ");
            c.send(BODY + ".\r\n");
            assertThat(c.reply()).isEqualTo("250 2.0.0 OK <id@fake> [Hostname=FAKE] Queued mail for delivery\r\n");
            assertThat(c.command("QUIT")).startsWith("221 2.0.0");
        }
        assertThat(fx.upstream.messages).containsExactly(BODY);
        assertThat(fx.upstream.allReceived())
                .contains("MAIL FROM:<app@legacy.example> SIZE=" + BODY.length() + " BODY=8BITMIME\r\nRCPT TO:<boss@contoso.com>\r\nDATA\r\n");
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.ended() == 1);
        assertThat(fx.pools.released.get()).isEqualTo(1);
        assertThat(fx.pools.releasedUnclean.get()).isZero();
    }

    @Test
    void pipelinedTransactionGetsOneReplyPerCommandInOrderAndARejectedRecipientStaysRejected() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            c.send("MAIL FROM:<app@legacy.example>\r\nRCPT TO:<a@contoso.com>\r\nRCPT TO:<reject@contoso.com>\r\n"
                    + "RCPT TO:<b@contoso.com>\r\nNOOP\r\nDATA\r\n");
            assertThat(c.reply()).startsWith("250 2.1.0");
            assertThat(c.reply()).startsWith("250 2.1.5");
            assertThat(c.reply()).isEqualTo("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup\r\n");
            assertThat(c.reply()).startsWith("250 2.1.5");
            assertThat(c.reply()).isEqualTo("250 2.0.0 OK\r\n");
            assertThat(c.reply()).startsWith("354 ");
            c.send("Subject: x\r\n\r\nhi\r\n.\r\nNOOP\r\n");
            assertThat(c.reply()).startsWith("250 2.0.0 OK <id@fake>");
            assertThat(c.reply()).isEqualTo("250 2.0.0 OK\r\n");
        }
        assertThat(fx.upstream.allReceived()).contains("RCPT TO:<a@contoso.com>\r\nRCPT TO:<reject@contoso.com>\r\n"
                + "RCPT TO:<b@contoso.com>\r\nDATA\r\n");
        assertThat(fx.upstream.messages).containsExactly("Subject: x\r\n\r\nhi\r\n");
    }

    @Test
    void locallyRefusedPipelinedRecipientsAreAnsweredInCommandOrder() throws Exception {
        fx.close();
        fx = new Fixture(Optional.empty(), new io.mailproxy.smtp.session.SmtpSettings("mx.test", 1000, 1 << 20, 4096, 3,
                Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofSeconds(10), true, true));
        try (SmtpTestClient c = fx.client().login("app")) {
            c.send("MAIL FROM:<app@legacy.example>\r\nRCPT TO:<>\r\nRCPT TO:<a@contoso.com>\r\n"
                    + "RCPT TO:<b@contoso.com> FOO=1\r\nRCPT TO:<reject@contoso.com>\r\nRCPT TO:<bad\r\n"
                    + "RCPT TO:<c@contoso.com>\r\nRCPT TO:<d@contoso.com>\r\nDATA\r\n");
            assertThat(c.reply()).startsWith("250 2.1.0");
            assertThat(c.reply()).isEqualTo("501 5.1.3 Bad recipient address syntax\r\n");
            assertThat(c.reply()).startsWith("250 2.1.5");
            assertThat(c.reply()).isEqualTo("555 5.5.4 Unsupported parameter FOO\r\n");
            assertThat(c.reply()).startsWith("550 5.1.10 ");
            assertThat(c.reply()).startsWith("501 5.5.4 Syntax: RCPT TO:<address>");
            assertThat(c.reply()).startsWith("250 2.1.5");
            assertThat(c.reply()).isEqualTo("452 4.5.3 Too many recipients\r\n");
            assertThat(c.reply()).startsWith("354 ");
            c.send("hi\r\n.\r\n");
            assertThat(c.reply()).startsWith("250 2.0.0 OK <id@fake>");
        }
        assertThat(fx.upstream.allReceived()).contains("RCPT TO:<a@contoso.com>\r\nRCPT TO:<reject@contoso.com>\r\n"
                + "RCPT TO:<c@contoso.com>\r\nDATA\r\n");
        assertThat(fx.upstream.messages).containsExactly("hi\r\n");
    }

    /**
     * An upstream that answers DATA with 250 instead of 354 accepted no message (none was sent); the client must
     * not get that 250 for its DATA (it could take it as its message's acceptance), and the connection is closed.
     */
    @Test
    void a250ToDataFromTheUpstreamNeverReachesTheClient() throws Exception {
        fx.upstream.dataReply = "250 2.0.0 OK";
        try (SmtpTestClient c = fx.client().login("app")) {
            c.send("MAIL FROM:<app@legacy.example>\r\nRCPT TO:<a@contoso.com>\r\nDATA\r\n");
            assertThat(c.reply()).startsWith("250 2.1.0");
            assertThat(c.reply()).startsWith("250 2.1.5");
            assertThat(c.reply()).isEqualTo("451 4.4.2 Upstream connection lost, try again later\r\n");
            assertThat(c.command("RCPT TO:<a@contoso.com>")).startsWith("503 5.5.1");
        }
        assertThat(fx.upstream.messages).isEmpty();
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.ended() == 1);
        assertThat(fx.pools.discarded.get()).isEqualTo(1);
    }

    @Test
    void a3xxToTheFinalDotIsNoAcceptance() throws Exception {
        fx.upstream.finalReply = "354 Start mail input; end with <CRLF>.<CRLF>";
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250 2.1.0");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250 2.1.5");
            expect(c.command("DATA"), "354 ");
            c.send("Subject: x\r\n\r\nhi\r\n.\r\n");
            assertThat(c.reply()).isEqualTo("451 4.4.2 Upstream connection lost, try again later\r\n");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.ended() == 1);
        assertThat(fx.pools.discarded.get()).isEqualTo(1);
    }

    @Test
    void upstreamWithoutPipeliningStillGetsCommandsOneAtATime() throws Exception {
        fx.upstream.capabilities = List.of("SIZE 1000000", "8BITMIME");
        try (SmtpTestClient c = fx.client().login("app")) {
            c.send("MAIL FROM:<app@legacy.example> BODY=8BITMIME\r\nRCPT TO:<a@contoso.com>\r\nRCPT TO:<b@contoso.com>\r\nDATA\r\n");
            assertThat(c.reply()).startsWith("250 2.1.0");
            assertThat(c.reply()).startsWith("250 2.1.5");
            assertThat(c.reply()).startsWith("250 2.1.5");
            assertThat(c.reply()).startsWith("354 ");
            c.send("hi\r\n.\r\n");
            assertThat(c.reply()).startsWith("250 2.0.0");
        }
        assertThat(fx.upstream.messages).containsExactly("hi\r\n");
    }

    @Test
    void noAcceptedRecipientRefusesData() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<reject@contoso.com>"), "550 5.1.10");
            assertThat(c.command("DATA")).isEqualTo("554 5.5.1 No valid recipients\r\n");
            assertThat(c.command("RSET")).isEqualTo("250 2.0.0 OK\r\n");
        }
        assertThat(fx.upstream.allReceived()).doesNotContain("DATA");
    }

    @Test
    void refusedMailFromReachesTheClientAndTheNextTransactionWorks() throws Exception {
        fx.upstream.mailReply = line -> line.contains("boss@")
                ? "550 5.7.60 SMTP; Client does not have permissions to send as this sender" : "250 2.1.0 Sender OK";
        try (SmtpTestClient c = fx.client().login("app")) {
            c.send("MAIL FROM:<boss@contoso.com>\r\nRCPT TO:<a@contoso.com>\r\n");
            assertThat(c.reply()).isEqualTo("550 5.7.60 SMTP; Client does not have permissions to send as this sender\r\n");
            assertThat(c.reply()).startsWith("503 5.5.1");
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("ok\r\n.\r\n");
            expect(c.reply(), "250 2.0.0");
        }
        assertThat(fx.upstream.messages).containsExactly("ok\r\n");
    }

    @Test
    void clientKilledMidDataSendsNoFinalDotAndDiscardsTheConnection() throws Exception {
        SmtpTestClient c = fx.client().login("app");
        expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
        expect(c.command("RCPT TO:<a@contoso.com>"), "250");
        expect(c.command("DATA"), "354");
        c.send("Subject: half\r\n\r\n" + "body line\r\n".repeat(1000));
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.upstream.allReceived().contains("body line\r\n".repeat(50)));
        c.socket.setSoLinger(true, 0);
        c.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.discarded.get() == 1);
        assertThat(fx.upstream.finalDots.get()).isZero();
        assertThat(fx.upstream.messages).isEmpty();
        assertThat(fx.pools.released.get()).isZero();
    }

    @Test
    void upstreamLostMidDataGives451AndTheClientCanRetry() throws Exception {
        fx.upstream.dropAfterDataOctets = 100;
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("Subject: lost\r\n\r\n" + "0123456789\r\n".repeat(2000) + ".\r\n");
            assertThat(c.reply()).startsWith("451 4.4.2");
            fx.upstream.dropAfterDataOctets = -1;
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("again\r\n.\r\n");
            expect(c.reply(), "250 2.0.0");
        }
        assertThat(fx.upstream.messages).containsExactly("again\r\n");
    }

    @Test
    void upstreamThatNeverAnswersTheDotGives451NotA250() throws Exception {
        fx.close();
        fx = new Fixture(Optional.empty(), new io.mailproxy.smtp.session.SmtpSettings("mx.test", 1000, 1 << 20, 4096, 100,
                Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofMillis(500), true, true));
        fx.upstream.silentAfterDot = true;
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("hang\r\n.\r\n");
            assertThat(c.reply()).startsWith("451 4.4.2");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.discarded.get() == 1);
    }

    /**
     * An upstream that stops reading in the middle of a message: the proxy stops reading the client too
     * (backpressure), but not for ever: after the reply timeout that connection is closed without the final dot, the
     * rest of the message is read and dropped, and the client gets 451 4.4.2.
     */
    @Test
    void upstreamThatStopsReadingMidDataEndsTheTransactionAfterTheTimeout() throws Exception {
        fx.close();
        fx = new Fixture(Optional.empty(), new io.mailproxy.smtp.session.SmtpSettings("mx.test", 1000, 64 << 20, 4096,
                100, Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofMillis(800), true, true));
        fx.upstream.stallInData = true;
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            String line = "0123456789".repeat(99) + "\r\n";
            java.util.concurrent.CompletableFuture<Void> sent = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    for (int i = 0; i < 16 * 1024; i++) { // 16 MiB: more than every buffer on the way can hold
                        c.send(line);
                    }
                    c.send(".\r\n");
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertThat(c.reply()).isEqualTo("451 4.4.2 Upstream connection lost, try again later\r\n");
            sent.get(10, java.util.concurrent.TimeUnit.SECONDS);
            expect(c.command("NOOP"), "250");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.discarded.get() == 1);
        assertThat(fx.upstream.finalDots.get()).isZero();
    }

    @Test
    void office365FinalRefusalReachesTheClientVerbatim() throws Exception {
        fx.upstream.finalReply = "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message";
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("x\r\n.\r\n");
            assertThat(c.reply()).isEqualTo(fx.upstream.finalReply + "\r\n");
        }
        assertThat(fx.upstream.connections.get()).isEqualTo(1); // no retry of a 5xx
    }

    @Test
    void bareLfInDataIsRefusedAndNothingIsDelivered() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("Subject: a\r\n\r\nbad\nline\r\n.\r\n");
            assertThat(c.reply()).isEqualTo("550 5.6.11 Bare CR or LF not allowed\r\n");
            assertThat(c.command("NOOP")).isEqualTo("250 2.0.0 OK\r\n");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.discarded.get() == 1);
        assertThat(fx.upstream.finalDots.get()).isZero();
    }

    @Test
    void smugglingAttemptDeliversNothingAndInjectsNoCommand() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("Subject: a\r\n\r\nhello\r\n.\nMAIL FROM:<ceo@contoso.com>\r\nRCPT TO:<victim@contoso.com>\r\nDATA\r\n"
                    + "From: ceo@contoso.com\r\n\r\nsmuggled\r\n.\r\nNOOP\r\n");
            assertThat(c.reply()).isEqualTo("550 5.6.11 Bare CR or LF not allowed\r\n");
            assertThat(c.reply()).isEqualTo("250 2.0.0 OK\r\n");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.ended() == 1);
        assertThat(fx.upstream.allReceived()).doesNotContain("ceo@contoso.com").doesNotContain("victim");
        assertThat(fx.upstream.finalDots.get()).isZero();
    }

    @Test
    void messageOverTheClientsMaxSizeIsRefused() throws Exception {
        try (SmtpTestClient c = fx.client().login("small")) {
            assertThat(c.command("MAIL FROM:<app@legacy.example> SIZE=101")).startsWith("552 5.3.4");
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("x".repeat(200) + "\r\n.\r\n");
            assertThat(c.reply()).isEqualTo("552 5.3.4 Message too big\r\n");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.discarded.get() == 1);
        assertThat(fx.upstream.finalDots.get()).isZero();
    }

    @Test
    void poolFailuresMapToTheDesignsReplies() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            fx.pools.failWith = new UpstreamException(UpstreamException.Kind.LIMIT_REACHED, "pool full");
            assertThat(c.command("MAIL FROM:<app@legacy.example>")).startsWith("451 4.4.5");
            fx.pools.failWith = new UpstreamException(UpstreamException.Kind.UNREACHABLE, "connect refused");
            assertThat(c.command("MAIL FROM:<app@legacy.example>")).startsWith("451 4.4.1");
            fx.pools.failWith = new UpstreamException(UpstreamException.Kind.CREDENTIALS_REJECTED, "token refused");
            assertThat(c.command("MAIL FROM:<app@legacy.example>")).startsWith("454 4.7.0");
            fx.pools.failWith = new UpstreamException(UpstreamException.Kind.THROTTLED, "too many connections",
                    "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", null);
            assertThat(c.command("MAIL FROM:<app@legacy.example>"))
                    .isEqualTo("432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded\r\n");
            fx.pools.failWith = null;
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
        }
    }

    @Test
    void senderRewriteChangesEnvelopeAndHeadersAndAdjustsSize() throws Exception {
        String message = "From: =?UTF-8?Q?J=C3=B6rg_Scanner?= <scanner@legacy.example>\r\nSender: scanner@legacy.example\r\n"
                + "Subject: scan\r\n\r\nbody stays\r\nFrom: not a header\r\n";
        try (SmtpTestClient c = fx.client().login("rewriter")) {
            expect(c.command("MAIL FROM:<scanner@legacy.example> SIZE=" + message.length()), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send(message + ".\r\n");
            expect(c.reply(), "250 2.0.0");
        }
        long growth = io.mailproxy.smtp.rewrite.SenderRewriter.sizeGrowth(Fixture.ACCOUNT_FROM, 4096);
        assertThat(fx.upstream.allReceived()).contains("MAIL FROM:<reports@contoso.com> SIZE=" + (message.length() + growth) + "\r\n");
        assertThat(fx.upstream.messages).containsExactly(
                "From: =?UTF-8?Q?J=C3=B6rg_Scanner?= <reports@contoso.com>\r\n"
                        + "Reply-To: =?UTF-8?Q?J=C3=B6rg_Scanner?= <scanner@legacy.example>\r\n"
                        + "Sender: reports@contoso.com\r\nSubject: scan\r\n\r\nbody stays\r\nFrom: not a header\r\n");
        assertThat(fx.upstream.messages.get(0).length()).isLessThanOrEqualTo((int) (message.length() + growth));
    }

    @Test
    void headerBlockOverTheLimitIsRefusedWith552() throws Exception {
        try (SmtpTestClient c = fx.client().login("rewriter")) {
            expect(c.command("MAIL FROM:<scanner@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("From: a@legacy.example\r\n" + "X-Filler: 0123456789012345678901234567890123456789\r\n".repeat(200)
                    + "\r\nbody\r\n.\r\n");
            assertThat(c.reply()).isEqualTo("552 5.3.4 Message header block too large\r\n");
            assertThat(c.command("NOOP")).isEqualTo("250 2.0.0 OK\r\n");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.discarded.get() == 1);
        assertThat(fx.upstream.finalDots.get()).isZero();
    }

    @Test
    void fixedClientListenerSendsWithoutAuth() throws Exception {
        fx.close();
        fx = new Fixture(Optional.of("scanner@contoso.com"), Fixture.settings(1 << 20, 4096));
        try (SmtpTestClient c = fx.client()) {
            expect(c.reply(), "220 mx.test mailproxy ESMTP ready");
            assertThat(c.command("EHLO scanner")).doesNotContain("AUTH");
            assertThat(c.command("AUTH PLAIN AHNjYW5uZXIAc2VjcmV0")).startsWith("503 5.5.1");
            expect(c.command("MAIL FROM:<scanner@contoso.com>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("scan\r\n.\r\n");
            expect(c.reply(), "250 2.0.0");
        }
        assertThat(fx.upstream.messages).containsExactly("scan\r\n");
    }

    @Test
    void shutdownDuringDataWaitsForTheFinalReply() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send("Subject: during shutdown\r\n\r\nfirst half\r\n");
            await().atMost(Duration.ofSeconds(5)).until(() -> fx.upstream.allReceived().contains("first half"));
            io.netty.channel.Channel session = fx.sessions.get(0);
            session.eventLoop().submit(() -> fx.frontend.shutdown(session)).sync();
            c.send("second half\r\n.\r\n");
            assertThat(c.reply()).startsWith("250 2.0.0 OK");
            assertThat(c.reply()).isEqualTo("421 4.3.2 mx.test Service shutting down\r\n");
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(fx.upstream.messages).containsExactly("Subject: during shutdown\r\n\r\nfirst half\r\nsecond half\r\n");
    }

    @Test
    void largeMessageStreamsThroughExactly() throws Exception {
        StringBuilder sb = new StringBuilder("Subject: big\r\n\r\n");
        java.util.Random random = new java.util.Random(42);
        while (sb.length() < 8 * 1024 * 1024) {
            int len = random.nextInt(200);
            for (int i = 0; i < len; i++) {
                sb.append((char) (32 + random.nextInt(95)));
            }
            sb.append("\r\n");
        }
        String body = sb.toString().replace("\r\n.", "\r\n..");
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example> SIZE=" + body.length()), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            expect(c.command("DATA"), "354");
            c.send(body + ".\r\n");
            expect(c.reply(), "250 2.0.0");
        }
        assertThat(fx.upstream.messages).hasSize(1);
        assertThat(fx.upstream.messages.get(0).equals(body)).as("delivered octets equal the sent ones").isTrue();
    }

    @Test
    void startTlsDiscardsPipelinedPlaintextAndForgetsTheSession() throws Exception {
        io.netty.handler.ssl.util.SelfSignedCertificate cert = new io.netty.handler.ssl.util.SelfSignedCertificate("mx.test");
        io.netty.handler.ssl.SslContext tls = io.netty.handler.ssl.SslContextBuilder
                .forServer(cert.certificate(), cert.privateKey()).build();
        fx.close();
        fx = new Fixture(new FakeListener(io.mailproxy.core.Protocol.SMTP).startTls(tls), Fixture.settings(1 << 20, 4096));
        try (SmtpTestClient c = fx.client()) {
            expect(c.reply(), "220 ");
            assertThat(c.command("EHLO client.test")).contains("250-STARTTLS\r\n");
            c.send("STARTTLS\r\nMAIL FROM:<injected@legacy.example>\r\n");
            assertThat(c.reply()).isEqualTo("220 2.0.0 Ready to start TLS\r\n");
            javax.net.ssl.SSLContext trustAll = javax.net.ssl.SSLContext.getInstance("TLS");
            trustAll.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
                public void checkClientTrusted(java.security.cert.X509Certificate[] chain, String authType) { }
                public void checkServerTrusted(java.security.cert.X509Certificate[] chain, String authType) { }
                public java.security.cert.X509Certificate[] getAcceptedIssuers() {
                    return new java.security.cert.X509Certificate[0];
                }
            }}, null);
            javax.net.ssl.SSLSocket ssl = (javax.net.ssl.SSLSocket) trustAll.getSocketFactory()
                    .createSocket(c.socket, "mx.test", c.socket.getPort(), true);
            ssl.startHandshake();
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(ssl.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII));
            java.io.OutputStream out = ssl.getOutputStream();
            out.write("NOOP\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            // the injected MAIL got no reply: the first reply over TLS is NOOP's
            assertThat(in.readLine()).isEqualTo("250 2.0.0 OK");
            out.write("MAIL FROM:<a@legacy.example>\r\nEHLO again\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            out.flush();
            assertThat(in.readLine()).isEqualTo("503 5.5.1 Send EHLO or HELO first");
            StringBuilder ehlo = new StringBuilder();
            for (String l; (l = in.readLine()) != null; ) {
                ehlo.append(l).append('\n');
                if (l.startsWith("250 ")) {
                    break;
                }
            }
            assertThat(ehlo.toString()).contains("AUTH PLAIN LOGIN").doesNotContain("STARTTLS");
            ssl.close();
        } finally {
            cert.delete();
        }
        assertThat(fx.pools.acquired.get()).isZero();
    }

    @Test
    void rsetAndQuitMidTransactionGiveTheConnectionBackWithoutADot() throws Exception {
        try (SmtpTestClient c = fx.client().login("app")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            expect(c.command("RCPT TO:<a@contoso.com>"), "250");
            assertThat(c.command("RSET")).isEqualTo("250 2.0.0 OK\r\n");
            await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.released.get() == 1);
            assertThat(c.command("RCPT TO:<a@contoso.com>")).startsWith("503 5.5.1");
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250");
            assertThat(c.command("QUIT")).startsWith("221 2.0.0");
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.pools.released.get() == 2);
        assertThat(fx.pools.discarded.get()).isZero();
        assertThat(fx.pools.releasedUnclean.get()).isZero();
        assertThat(fx.upstream.finalDots.get()).isZero();
    }
}
