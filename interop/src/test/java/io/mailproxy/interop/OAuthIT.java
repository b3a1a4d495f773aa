package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The OAuth path end to end: the proxy gets an app-only token from testkit's fake identity platform
 * (client-credentials grant) and logs in to the real Dovecot with SASL XOAUTH2, which Dovecot's oauth2 passdb
 * checks against the introspection URL. The legacy client only ever sends its local password.
 */
@ExtendWith(Interop.Extension.class)
class OAuthIT {

    static final String USER = Interop.OAUTH_USER;
    static final String CLIENT = Proxy.client(USER);

    Interop env;
    Proxy proxy;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        try (UpstreamMailbox m = UpstreamMailbox.openXoauth2(env.dovecot, USER, env.identity.mint(USER))) {
            m.clear();
        }
    }

    @Test
    void imapAndPop3FetchThroughXoauth2AreExact() throws IOException {
        byte[] msg = Messages.message(USER, USER, "oauth fetch", 30 * 1024, 81);
        long uid;
        try (UpstreamMailbox m = UpstreamMailbox.openXoauth2(env.dovecot, USER, env.identity.mint(USER))) {
            uid = m.append("INBOX", msg);
        }
        int introspections = env.identity.introspections();
        Proc.Result imap = CurlIT.curl(proxy.imapUrl(CLIENT) + "/INBOX;UID=" + uid);
        assertThat(imap.exit()).as(imap.describe()).isZero();
        Exact.assertSameBytes("IMAP via XOAUTH2", imap.stdout(), msg);
        Proc.Result pop3 = CurlIT.curl(proxy.pop3Url(CLIENT) + "/1");
        assertThat(pop3.exit()).as(pop3.describe()).isZero();
        Exact.assertSameBytes("POP3 via XOAUTH2", pop3.stdout(), msg);
        assertThat(env.identity.tokensIssued()).as("client-credentials token requests").isPositive();
        assertThat(env.identity.introspections()).as("Dovecot checked the proxy's bearer token")
                .isGreaterThan(introspections);
    }

    @Test
    void smtpSendThroughXoauth2ArrivesExact() throws IOException {
        String rcpt = "oauth-rcpt@elsewhere.test";
        byte[] msg = Messages.message(USER, rcpt, "oauth send", 10 * 1024, 82);
        Path file = Files.write(env.scratch.resolve("oauth.eml"), msg);
        Proc.Result r = CurlIT.curl(proxy.smtpUrl(), "--user", CLIENT + ":" + Proxy.secret(CLIENT),
                "--mail-from", USER, "--mail-rcpt", rcpt, "--upload-file", file.toString());
        assertThat(r.exit()).as(r.describe()).isZero();
        assertThat(env.sink.messagesTo(rcpt)).hasSize(1);
        Exact.assertRelayed(env.sink.messagesTo(rcpt).get(0).data(), msg);
    }
}
