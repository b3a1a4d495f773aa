package io.mailproxy.core.upstream;

import static io.mailproxy.core.upstream.NettyUpstreamConnectorScriptedTest.assertHandedOver;
import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.mailproxy.testkit.GreenMailUpstream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The connector against GreenMail's IMAPS, POP3S and SMTPS: XOAUTH2 through its token validator, and passwords. */
class NettyUpstreamConnectorGreenMailTest {

    private static final String OAUTH_USER = "reports@contoso.com";
    private static final String TOKEN = "opaque-access-token-0123456789";
    private static final String PASSWORD_USER = "legacy@contoso.com";
    private static final String PASSWORD = "correct horse battery staple";
    private static GreenMailUpstream greenMail;

    private final ConnectorFixture fixture = new ConnectorFixture();

    @BeforeAll
    static void start() {
        greenMail = GreenMailUpstream.start();
        greenMail.oauthUser(OAUTH_USER, TOKEN);
        greenMail.passwordUser(PASSWORD_USER, PASSWORD);
    }

    @AfterAll
    static void stop() {
        greenMail.close();
    }

    @AfterEach
    void close() {
        fixture.close();
    }

    private String url(String scheme, int port) {
        return scheme + "://" + greenMail.host() + ":" + port;
    }

    @Test
    void imapsWithXoauth2() throws Exception {
        fixture.bearer(OAUTH_USER, TOKEN).caFile(greenMail.caPem());
        UpstreamSession s = fixture.session(url("imaps", greenMail.imapsPort()));

        assertThat(s.protocol()).isEqualTo(Protocol.IMAP);
        assertThat(s.greeting()).startsWith("* OK");
        assertThat(s.capabilities()).contains("IMAP4REV1", "IDLE", "UIDPLUS");
        assertThat(s.tokenExpiresAt()).contains(ConnectorFixture.EXPIRES);
        assertHandedOver(s);
        // the handed-over channel is logged in: SELECT INBOX works
        assertThat(exchange(s, "X1 SELECT INBOX\r\n", "X1 ")).contains("X1 OK");
    }

    @Test
    void imapsWithPasswordFallsBackToLoginCommand() throws Exception {
        fixture.password(PASSWORD_USER, PASSWORD).caFile(greenMail.caPem());
        UpstreamSession s = fixture.session(url("imaps", greenMail.imapsPort()));

        assertThat(s.tokenExpiresAt()).isEmpty();
        assertHandedOver(s);
        assertThat(exchange(s, "X1 SELECT INBOX\r\n", "X1 ")).contains("X1 OK");
    }

    @Test
    void imapsWithWrongTokenIsRejected() {
        fixture.bearer(OAUTH_USER, "expired-token").caFile(greenMail.caPem());
        UpstreamException e = fixture.failure(url("imaps", greenMail.imapsPort()));

        assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
        assertThat(e.upstreamReply()).hasValueSatisfying(r -> assertThat(r).startsWith("A2 NO"));
        assertThat(e.getMessage()).doesNotContain("expired-token");
        assertThat(fixture.invalidated).containsExactly(OAUTH_USER + "/IMAP");
    }

    @Test
    void pop3sWithXoauth2() throws Exception {
        fixture.bearer(OAUTH_USER, TOKEN).caFile(greenMail.caPem());
        UpstreamSession s = fixture.session(url("pop3s", greenMail.pop3sPort()));

        assertThat(s.greeting()).startsWith("+OK");
        assertThat(s.capabilities()).contains("UIDL");
        assertHandedOver(s);
        assertThat(exchange(s, "STAT\r\n", "\r\n")).startsWith("+OK 0 0");
    }

    @Test
    void pop3sWithPasswordUsesSaslPlain() throws Exception {
        fixture.password(PASSWORD_USER, PASSWORD).caFile(greenMail.caPem());
        UpstreamSession s = fixture.session(url("pop3s", greenMail.pop3sPort()));
        assertHandedOver(s);
        assertThat(exchange(s, "STAT\r\n", "\r\n")).startsWith("+OK");
    }

    @Test
    void pop3sWithWrongPasswordIsRejected() {
        fixture.password(PASSWORD_USER, "wrong").caFile(greenMail.caPem());
        UpstreamException e = fixture.failure(url("pop3s", greenMail.pop3sPort()));
        assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
        assertThat(e.upstreamReply()).hasValueSatisfying(r -> assertThat(r).startsWith("-ERR"));
        assertThat(fixture.invalidated).isEmpty();
    }

    @Test
    void smtpsWithXoauth2() throws Exception {
        fixture.bearer(OAUTH_USER, TOKEN).caFile(greenMail.caPem());
        UpstreamSession s = fixture.session(url("smtps", greenMail.smtpsPort()));

        assertThat(s.greeting()).startsWith("220 ");
        assertThat(s.hasCapability("AUTH")).isTrue();
        assertHandedOver(s);
        assertThat(exchange(s, "MAIL FROM:<" + OAUTH_USER + ">\r\n", "\r\n")).startsWith("250");
    }

    @Test
    void smtpsWithPassword() throws Exception {
        fixture.password(PASSWORD_USER, PASSWORD).caFile(greenMail.caPem());
        UpstreamSession s = fixture.session(url("smtps", greenMail.smtpsPort()));
        assertHandedOver(s);
        assertThat(exchange(s, "RSET\r\n", "\r\n")).startsWith("250");
    }

    @Test
    void smtpsWithWrongTokenIsRejected() {
        fixture.bearer(OAUTH_USER, "nope").caFile(greenMail.caPem());
        UpstreamException e = fixture.failure(url("smtps", greenMail.smtpsPort()));
        assertThat(e.kind()).isEqualTo(Kind.CREDENTIALS_REJECTED);
        assertThat(e.upstreamReply()).hasValueSatisfying(r -> assertThat(r).startsWith("535"));
    }

    @Test
    void withoutTheCaFileGreenMailsCertificateIsNotTrusted() {
        fixture.bearer(OAUTH_USER, TOKEN);
        UpstreamException e = fixture.failure(url("imaps", greenMail.imapsPort()));
        assertThat(e.kind()).isEqualTo(Kind.TLS_FAILURE);
        assertThat(e.getMessage()).contains("certificate");
    }

    /** Writes {@code command} on the handed-over channel as its new owner would, and returns the reply up to {@code until}. */
    private static String exchange(UpstreamSession s, String command, String until) throws Exception {
        CompletableFuture<String> reply = new CompletableFuture<>();
        StringBuilder text = new StringBuilder();
        s.channel().pipeline().addLast("owner", new SimpleChannelInboundHandler<ByteBuf>() {
            @Override
            protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
                text.append(msg.toString(StandardCharsets.UTF_8));
                String t = text.toString();
                int at = t.indexOf(until);
                if (at >= 0 && t.indexOf("\r\n", at) >= 0) {
                    reply.complete(t);
                } else {
                    ctx.read();
                }
            }
        });
        s.channel().writeAndFlush(Unpooled.copiedBuffer(command, StandardCharsets.UTF_8));
        s.channel().read();
        return reply.get(5, TimeUnit.SECONDS);
    }
}
