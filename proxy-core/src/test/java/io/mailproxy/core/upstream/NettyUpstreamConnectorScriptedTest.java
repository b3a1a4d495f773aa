package io.mailproxy.core.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.mailproxy.testkit.Office365;
import io.mailproxy.testkit.ScriptedUpstream;
import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import io.mailproxy.testkit.TestCertificates;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The connector against scripted upstreams that answer as Office 365 does, and against faults. */
class NettyUpstreamConnectorScriptedTest {

    private static final String MAILBOX = "reports@contoso.com";
    private static final String TOKEN = "EwBwA8l6BAAUO9chh8cJscQLmU+LSWpbnr0vmwwAAXRoken";
    private static final TestCertificates CERTS = TestCertificates.shared();

    private final ConnectorFixture fixture = new ConnectorFixture().bearer(MAILBOX, TOKEN).caFile(CERTS.caPem());

    @AfterEach
    void close() {
        fixture.close();
    }

    private static String xoauth2(String user, String token) {
        return Base64.getEncoder().encodeToString(("user=" + user + "\u0001auth=Bearer " + token + "\u0001\u0001")
                .getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void smtpOnOffice365StartsTlsAuthenticatesWithXoauth2AndHandsOver() throws Exception {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            UpstreamSession s = fixture.session("smtp+starttls://127.0.0.1:" + up.port());

            assertThat(up.received()).containsExactly("EHLO [127.0.0.1]", "STARTTLS", "EHLO [127.0.0.1]",
                    "AUTH XOAUTH2 " + xoauth2(MAILBOX, TOKEN), "NOOP");
            assertThat(s.protocol()).isEqualTo(Protocol.SMTP);
            assertThat(s.greeting()).isEqualTo(Office365.SMTP_GREETING);
            assertThat(s.capabilities()).contains("AUTH LOGIN XOAUTH2", "SIZE 157286400", "PIPELINING", "DSN",
                    "ENHANCEDSTATUSCODES", "8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8").doesNotContain("STARTTLS");
            assertThat(s.hasCapability("SIZE")).isTrue();
            assertThat(s.tokenExpiresAt()).contains(ConnectorFixture.EXPIRES);
            assertHandedOver(s);
        }
    }

    @Test
    void handedOverChannelDeliversTheNextBytesToItsNewOwner() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            UpstreamSession s = fixture.session("imaps://127.0.0.1:" + up.port());
            assertHandedOver(s);
            CompletableFuture<String> got = new CompletableFuture<>();
            StringBuilder text = new StringBuilder();
            s.channel().pipeline().addLast("owner", new SimpleChannelInboundHandler<ByteBuf>() {
                @Override
                protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
                    text.append(msg.toString(StandardCharsets.UTF_8));
                    if (text.toString().endsWith("\r\n")) {
                        got.complete(text.toString());
                    } else {
                        ctx.read();
                    }
                }
            });
            up.sendToAll(Office365.TOKEN_EXPIRED_BYE);
            s.channel().read();
            assertThat(got.get(5, TimeUnit.SECONDS)).isEqualTo(Office365.TOKEN_EXPIRED_BYE + "\r\n");
        }
    }

    @Test
    void imapOnOffice365UsesSaslIrAndReadsCapabilitiesAgainAfterLogin() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            UpstreamSession s = fixture.session("imaps://127.0.0.1:" + up.port());

            assertThat(up.received()).containsExactly("A1 CAPABILITY", "A2 AUTHENTICATE XOAUTH2 " + xoauth2(MAILBOX, TOKEN),
                    "A3 CAPABILITY", "A4 NOOP");
            assertThat(s.greeting()).isEqualTo(Office365.IMAP_GREETING);
            assertThat(s.capabilities()).containsExactlyInAnyOrder(
                    Office365.IMAP_CAPABILITY_AUTHENTICATED.toUpperCase(java.util.Locale.ROOT).split(" "));
            assertThat(s.capabilities()).contains("MOVE", "IDLE", "UIDPLUS", "LITERAL+");
            assertHandedOver(s);
        }
    }

    @Test
    void imapStartTlsForgetsPlaintextCapabilities() throws Exception {
        try (ScriptedUpstream up = Office365.of(Dialect.IMAP, Security.STARTTLS, CERTS.server())
                .account(MAILBOX, TOKEN).start()) {
            UpstreamSession s = fixture.session("imap+starttls://127.0.0.1:" + up.port());

            assertThat(up.received()).containsExactly("A1 CAPABILITY", "A2 STARTTLS", "A3 CAPABILITY",
                    "A4 AUTHENTICATE XOAUTH2 " + xoauth2(MAILBOX, TOKEN), "A5 CAPABILITY", "A6 NOOP");
            assertThat(s.capabilities()).doesNotContain("STARTTLS", "LOGINDISABLED");
            assertHandedOver(s);
        }
    }

    @Test
    void pop3OnOffice365SendsXoauth2AfterTheContinuation() throws Exception {
        try (ScriptedUpstream up = Office365.pop3(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            UpstreamSession s = fixture.session("pop3s://127.0.0.1:" + up.port());

            assertThat(up.received()).containsExactly("CAPA", "AUTH XOAUTH2", xoauth2(MAILBOX, TOKEN), "CAPA", "NOOP");
            assertThat(s.greeting()).isEqualTo(Office365.POP3_GREETING);
            assertThat(s.capabilities()).containsExactlyInAnyOrder("TOP", "UIDL");
            assertThat(s.tokenExpiresAt()).contains(ConnectorFixture.EXPIRES);
            assertHandedOver(s);
        }
    }

    @Test
    void pop3StlsThenPasswordWithSaslPlain() throws Exception {
        fixture.password("user@contoso.com", "pa ss\"word");
        try (ScriptedUpstream up = Office365.of(Dialect.POP3, Security.STARTTLS, CERTS.server())
                .account("user@contoso.com", "pa ss\"word").start()) {
            UpstreamSession s = fixture.session("pop3+starttls://127.0.0.1:" + up.port());

            String plain = Base64.getEncoder().encodeToString("\0user@contoso.com\0pa ss\"word".getBytes(StandardCharsets.UTF_8));
            assertThat(up.received()).containsExactly("CAPA", "STLS", "CAPA", "AUTH PLAIN", plain, "CAPA", "NOOP");
            assertThat(s.tokenExpiresAt()).isEmpty();
            assertHandedOver(s);
        }
    }

    @Test
    void smtpPasswordLoginUsesSaslLoginWhenPlainIsNotOffered() throws Exception {
        fixture.password("user@contoso.com", "secret-pw");
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account("user@contoso.com", "secret-pw").start()) {
            UpstreamSession s = fixture.session("smtp+starttls://127.0.0.1:" + up.port());

            assertThat(up.received()).containsSubsequence("AUTH LOGIN",
                    Base64.getEncoder().encodeToString("user@contoso.com".getBytes(StandardCharsets.UTF_8)),
                    Base64.getEncoder().encodeToString("secret-pw".getBytes(StandardCharsets.UTF_8)), "NOOP");
            assertThat(s.tokenExpiresAt()).isEmpty();
        }
    }

    @Test
    void bytesInjectedAfterSmtpStartTlsReplyDropTheConnection() {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN)
                .injectAfterStartTls("250-injected\r\n").start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
            assertThat(e.getMessage()).contains("after its STARTTLS reply");
            assertThat(up.received()).containsExactly("EHLO [127.0.0.1]", "STARTTLS");
        }
    }

    @Test
    void bytesInjectedAfterImapStartTlsReplyDropTheConnection() {
        try (ScriptedUpstream up = Office365.of(Dialect.IMAP, Security.STARTTLS, CERTS.server()).account(MAILBOX, TOKEN)
                .injectAfterStartTls("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n").start()) {
            UpstreamException e = fixture.failure("imap+starttls://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
            assertThat(up.received()).containsExactly("A1 CAPABILITY", "A2 STARTTLS");
        }
    }

    @Test
    void bytesInjectedAfterPop3StlsReplyInALaterPacketFailTheHandshake() {
        // the injection arrives after the client started TLS: it reaches the TLS handler, which refuses it
        try (ScriptedUpstream up = Office365.of(Dialect.POP3, Security.STARTTLS, CERTS.server()).account(MAILBOX, TOKEN)
                .builder().on("STLS", ex -> {
                    ex.reply("+OK Begin TLS negotiation");
                    ex.replyRaw("+OK injected\r\n");
                }).start()) {
            UpstreamException e = fixture.failure("pop3+starttls://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
        }
    }

    @Test
    void office365PostLoginBadMeansThrottled() {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).notConnectedAfterLogin().start()) {
            UpstreamException e = fixture.failure("imaps://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.THROTTLED);
            assertThat(e.upstreamReply()).contains("A3 BAD User is authenticated but not connected.");
            assertThat(e.getMessage()).as("the log says what it usually means")
                    .contains("Set-CASMailbox").contains("Add-MailboxPermission");
        }
    }

    @Test
    void untrustedCertificateIsATlsFailure() {
        try (ScriptedUpstream up = Office365.imap(CERTS.selfSigned()).account(MAILBOX, TOKEN).start()) {
            UpstreamException e = fixture.failure("imaps://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
            assertThat(e.getMessage()).contains("certificate not trusted");
            assertThat(up.received()).isEmpty();
        }
    }

    @Test
    void certificateForAnotherHostIsATlsFailure() {
        try (ScriptedUpstream up = Office365.smtp(CERTS.wrongHost()).account(MAILBOX, TOKEN).start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
            assertThat(e.getMessage()).contains("does not match the host name");
            assertThat(up.received()).containsExactly("EHLO [127.0.0.1]", "STARTTLS");
        }
    }

    @Test
    void certificateIsCheckedAgainstADnsNameToo() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.server("localhost")).account(MAILBOX, TOKEN).start()) {
            assertHandedOver(fixture.session("imaps://localhost:" + up.port()));
        }
        try (ScriptedUpstream up = Office365.imap(CERTS.server("mail.contoso.test")).account(MAILBOX, TOKEN).start()) {
            assertThat(fixture.failure("imaps://localhost:" + up.port()).kind()).isEqualTo(Kind.TLS_FAILURE);
        }
    }

    @Test
    void rejectedSmtpTokenKeepsOffice365Text() {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, "another-token").start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
            assertThat(e.upstreamReply()).contains(Office365.SMTP_AUTH_FAILED);
            assertThat(e.getMessage()).contains(Office365.SMTP_AUTH_FAILED).doesNotContain(TOKEN);
            assertThat(fixture.invalidated).containsExactly("reports@contoso.com/SMTP");
        }
    }

    @Test
    void rejectedImapTokenWithJsonChallengeIsAnsweredWithAnEmptyLine() {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, "another-token")
                .xoauth2ErrorChallenge().start()) {
            UpstreamException e = fixture.failure("imaps://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
            assertThat(e.upstreamReply()).contains("A2 NO AUTHENTICATE failed.");
            assertThat(e.getMessage()).contains("\"status\":\"401\"");
            assertThat(up.received()).containsExactly("A1 CAPABILITY", "A2 AUTHENTICATE XOAUTH2 " + xoauth2(MAILBOX, TOKEN), "");
        }
    }

    @Test
    void rejectedSmtpTokenWithJsonChallengeIsAnsweredWithAnEmptyLine() {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, "another-token")
                .xoauth2ErrorChallenge().start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
            assertThat(e.upstreamReply()).contains(Office365.SMTP_AUTH_FAILED);
            assertThat(up.received()).endsWith("AUTH XOAUTH2 " + xoauth2(MAILBOX, TOKEN), "");
        }
    }

    @Test
    void rejectedPop3TokenKeepsOffice365Text() {
        try (ScriptedUpstream up = Office365.pop3(CERTS.server()).account(MAILBOX, "another-token").start()) {
            UpstreamException e = fixture.failure("pop3s://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
            assertThat(e.upstreamReply()).contains(Office365.POP3_AUTH_FAILED);
        }
    }

    @Test
    void smtpAuthDisabledIsKeptVerbatim() {
        String reply = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
                + "Visit https://aka.ms/smtp_auth_disabled for more information. [AM0PR10CA0001.EURPRD10.PROD.OUTLOOK.COM]";
        assertThat(smtpAuthAnswer(reply)).satisfies(e -> {
            assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
            assertThat(e.upstreamReply()).contains(reply);
        });
    }

    @Test
    void smtpBasicAuthOffIsKeptVerbatim() {
        String reply = "550 5.7.30 Basic authentication is not supported for Client Submission.";
        assertThat(smtpAuthAnswer(reply)).satisfies(e -> {
            assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
            assertThat(e.upstreamReply()).contains(reply);
        });
    }

    @Test
    void smtpConcurrencyLimitIsThrottled() {
        String reply = "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded [Hostname=AM0PR10MB0001]";
        UpstreamException e = smtpAuthAnswer(reply);
        assertThat(e.kind()).isEqualTo(Kind.THROTTLED);
        assertThat(e.upstreamReply()).contains(reply);
    }

    @Test
    void smtpMailboxThrottlingIsThrottled() {
        assertThat(smtpAuthAnswer("550 5.2.252 SendAsDeniedException.MapiExceptionSendAsDenied").kind())
                .isEqualTo(Kind.THROTTLED);
    }

    @Test
    void smtpDailyQuotaIsQuota() {
        UpstreamException e = smtpAuthAnswer("554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException");
        assertThat(e.kind()).isEqualTo(Kind.QUOTA);
    }

    @Test
    void smtpConcurrencyLimitAtGreetingIsThrottled() {
        try (ScriptedUpstream up = ScriptedUpstream.builder(Dialect.SMTP)
                .greeting("432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded").start()) {
            // a plaintext script: the connector must not even get to STARTTLS
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.THROTTLED);
        }
    }

    @Test
    void smtpServiceRefusedAtGreetingIsUnreachable() {
        try (ScriptedUpstream up = ScriptedUpstream.builder(Dialect.SMTP).greeting("554 5.3.2 Service not available").start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.UNREACHABLE);
            assertThat(e.upstreamReply()).contains("554 5.3.2 Service not available");
        }
    }

    @Test
    void refusedStartTlsIsATlsFailure() {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN).builder()
                .on("STARTTLS", ex -> ex.reply("454 4.7.0 TLS not available due to temporary reason")).start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
            assertThat(e.upstreamReply()).contains("454 4.7.0 TLS not available due to temporary reason");
        }
    }

    private UpstreamException smtpAuthAnswer(String reply) {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN)
                .builder().on("AUTH", ex -> ex.reply(reply)).start()) {
            return fixture.failure("smtp+starttls://127.0.0.1:" + up.port());
        }
    }

    @Test
    void connectionRefusedIsUnreachable() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            port = s.getLocalPort();
        }
        UpstreamException e = fixture.failure("imaps://127.0.0.1:" + port);
        assertThat(e.kind()).isEqualTo(Kind.UNREACHABLE);
    }

    @Test
    void silentServerTimesOut() {
        fixture.timeouts(Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofMillis(300));
        try (ScriptedUpstream up = ScriptedUpstream.builder(Dialect.SMTP).greeting().start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.TIMED_OUT);
            assertThat(e.getMessage()).contains("greeting");
        }
    }

    @Test
    void serverThatNeverAnswersTheHandshakeTimesOut() throws Exception {
        fixture.timeouts(Duration.ofSeconds(2), Duration.ofMillis(300), Duration.ofSeconds(5));
        // never accepted, never read: the kernel completes the TCP handshake from the backlog
        try (ServerSocket silent = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            UpstreamException e = fixture.failure("imaps://127.0.0.1:" + silent.getLocalPort());
            assertThat(e.kind()).isEqualTo(Kind.TIMED_OUT);
            assertThat(e.getMessage()).contains("handshake");
        }
    }

    @Test
    void upstreamClosingDuringLoginIsUnreachable() {
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN)
                .builder().on("EHLO", ScriptedUpstream.Exchange::close).start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.UNREACHABLE);
        }
    }

    @Test
    void upstreamWithoutStartTlsIsRefused() {
        try (ScriptedUpstream up = ScriptedUpstream.builder(Dialect.SMTP).greeting("220 plain ESMTP")
                .on("EHLO", ex -> ex.reply("250-plain", "250 AUTH PLAIN")).start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
            assertThat(e.getMessage()).contains("does not offer STARTTLS");
            assertThat(up.received()).containsExactly("EHLO [127.0.0.1]");
        }
    }

    @Test
    void imapTokenExpiredByeDuringLoginIsARejection() {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN)
                .builder().on("AUTHENTICATE", ex -> {
                    ex.reply(Office365.TOKEN_EXPIRED_BYE);
                    ex.close();
                }).start()) {
            UpstreamException e = fixture.failure("imaps://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
            assertThat(e.upstreamReply()).contains(Office365.TOKEN_EXPIRED_BYE);
        }
    }

    @Test
    void extraBytesAfterTheNoopReplyAreNotHandedOver() {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN)
                .builder().on("NOOP", ex -> ex.replyRaw(ex.tag() + " OK NOOP completed.\r\n* 3 EXISTS\r\n")).start()) {
            UpstreamException e = fixture.failure("imaps://127.0.0.1:" + up.port());
            assertThat(e.kind()).isEqualTo(Kind.PROTOCOL_ERROR);
        }
    }

    @Test
    void imapWithoutSaslIrSendsXoauth2AfterTheContinuation() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).builder()
                .on("CAPABILITY", ex -> ex.reply("* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 IDLE", ex.tag() + " OK done"))
                .start()) {
            UpstreamSession s = fixture.session("imaps://127.0.0.1:" + up.port());

            assertThat(up.received()).containsExactly("A1 CAPABILITY", "A2 AUTHENTICATE XOAUTH2", xoauth2(MAILBOX, TOKEN),
                    "A3 CAPABILITY", "A4 NOOP");
            assertThat(s.capabilities()).containsExactlyInAnyOrder("IMAP4REV1", "AUTH=XOAUTH2", "IDLE");
        }
    }

    @Test
    void capabilitiesInTheAuthenticateReplyAreNotAskedForAgain() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(MAILBOX, TOKEN).builder()
                .on("AUTHENTICATE", ex -> ex.reply(ex.tag() + " OK [CAPABILITY IMAP4rev1 MOVE] Logged in"))
                .start()) {
            UpstreamSession s = fixture.session("imaps://127.0.0.1:" + up.port());

            assertThat(up.received()).containsExactly("A1 CAPABILITY", "A2 AUTHENTICATE XOAUTH2 " + xoauth2(MAILBOX, TOKEN),
                    "A3 NOOP");
            assertThat(s.capabilities()).containsExactlyInAnyOrder("IMAP4REV1", "MOVE");
        }
    }

    @Test
    void missingCredentialsKeepTheirKindAndCloseTheConnection() {
        fixture.credentials(() -> CompletableFuture.failedFuture(
                new UpstreamException(Kind.CREDENTIALS_UNAVAILABLE, "refresh token for reports@contoso.com not stored")));
        try (ScriptedUpstream up = Office365.smtp(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            UpstreamException e = fixture.failure("smtp+starttls://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_UNAVAILABLE);
            assertThat(e.getMessage()).isEqualTo("refresh token for reports@contoso.com not stored");
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> up.openConnections() == 0);
            assertThat(up.received()).doesNotContain("NOOP").noneMatch(l -> l.startsWith("AUTH"));
        }
    }

    @Test
    void credentialSourceThatNeverAnswersIsBoundedByTheReplyTimeout() {
        fixture.timeouts(Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofMillis(400));
        fixture.credentials(CompletableFuture::new);
        try (ScriptedUpstream up = Office365.pop3(CERTS.server()).account(MAILBOX, TOKEN).start()) {
            UpstreamException e = fixture.failure("pop3s://127.0.0.1:" + up.port());

            assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_UNAVAILABLE);
            assertThat(up.received()).containsExactly("CAPA");
        }
    }

    static void assertHandedOver(UpstreamSession s) throws Exception {
        CompletableFuture<List<String>> names = new CompletableFuture<>();
        s.channel().eventLoop().execute(() -> names.complete(List.copyOf(s.channel().pipeline().toMap().keySet())));
        assertThat(names.get(5, TimeUnit.SECONDS)).containsExactly("tls");
        assertThat(s.channel().config().isAutoRead()).isFalse();
        assertThat(s.channel().isActive()).isTrue();
    }
}
