package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * An upstream whose certificate is for another name (Dovecot reached as 127.0.0.1, which its certificate does not
 * name), and an identity platform that answers 500: the client gets DESIGN's "upstream down" error in its own
 * protocol, the log says what happened (and holds no secret), and once the token endpoint heals the same daemon
 * logs in with XOAUTH2 again.
 *
 * <p>Ordered: the token endpoint fails until the last check heals it (a token, once issued, is cached).
 */
@ExtendWith(Interop.Extension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TlsAndTokenFaultIT {

    static final String WRONG = Proxy.WRONG_NAME_CLIENT;
    static final String FLAKY = Proxy.client(Interop.FLAKY_USER);
    static final String CERT_LOG = "(?i)(certificate|hostname|subject alternative|no subject|handshake|tls|ssl)";
    static final String TOKEN_LOG = "(?i)(token|oauth|500|identity)";

    Interop env;
    Proxy proxy;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
    }

    @Test
    @Order(1)
    void imapUpstreamWithACertificateForAnotherName() throws IOException {
        long mark = env.logs.mark();
        assertThat(imapLogin(WRONG)).contains("a NO [UNAVAILABLE]");
        env.assertLogged(mark, CERT_LOG);
    }

    @Test
    @Order(1)
    void pop3UpstreamWithACertificateForAnotherName() throws IOException {
        long mark = env.logs.mark();
        assertThat(pop3Login(WRONG)).startsWith("-ERR [SYS/TEMP]");
        env.assertLogged(mark, CERT_LOG);
    }

    @Test
    @Order(1)
    void smtpUpstreamWithACertificateForAnotherName() throws IOException {
        long mark = env.logs.mark();
        assertThat(smtpMail(WRONG)).matches("(451 4\\.4\\.1|454 4\\.7\\.0) .*");
        env.assertLogged(mark, CERT_LOG);
    }

    @Test
    @Order(2)
    void imapWhileTheTokenEndpointAnswers500() throws IOException {
        long mark = env.logs.mark();
        assertThat(imapLogin(FLAKY)).contains("a NO [UNAVAILABLE]");
        env.assertLogged(mark, TOKEN_LOG);
    }

    @Test
    @Order(2)
    void pop3WhileTheTokenEndpointAnswers500() throws IOException {
        long mark = env.logs.mark();
        assertThat(pop3Login(FLAKY)).startsWith("-ERR [SYS/TEMP]");
        env.assertLogged(mark, TOKEN_LOG);
    }

    @Test
    @Order(2)
    void smtpWhileTheTokenEndpointAnswers500() throws IOException {
        long mark = env.logs.mark();
        assertThat(smtpMail(FLAKY)).matches("(451 4\\.4\\.1|454 4\\.7\\.0) .*");
        env.assertLogged(mark, TOKEN_LOG);
    }

    @Test
    @Order(3)
    void onceTheTokenEndpointHealsTheSameDaemonLogsInWithXoauth2() throws IOException {
        env.identity.flaky.failWith(0);
        byte[] msg = Messages.message(Interop.FLAKY_USER, Interop.FLAKY_USER, "healed", 4000, 91);
        long uid;
        try (UpstreamMailbox m = UpstreamMailbox.openXoauth2(env.dovecot, Interop.FLAKY_USER,
                env.identity.mint(Interop.FLAKY_USER))) {
            m.clear();
            uid = m.append("INBOX", msg);
        }
        await("IMAP login after the token endpoint healed").atMost(Duration.ofSeconds(60))
                .pollInterval(Duration.ofSeconds(1)).ignoreExceptions()
                .untilAsserted(() -> assertThat(imapLogin(FLAKY)).contains("a OK"));
        Proc.Result r = CurlIT.curl(proxy.imapUrl(FLAKY) + "/INBOX;UID=" + uid);
        assertThat(r.exit()).as(r.describe()).isZero();
        Exact.assertSameBytes("fetched with the healed token", r.stdout(), msg);
    }

    private String imapLogin(String client) throws IOException {
        return Logins.imap(proxy, client);
    }

    private String pop3Login(String client) throws IOException {
        return Logins.pop3(proxy, client);
    }

    private String smtpMail(String client) throws IOException {
        return Logins.smtpMail(proxy, client, Interop.FLAKY_USER);
    }
}
