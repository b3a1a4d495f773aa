package io.mailproxy.daemon.e2e;

import com.icegreen.greenmail.user.GreenMailUser;
import com.icegreen.greenmail.user.UserImpl;
import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.identity.PasswordHasher;
import io.mailproxy.daemon.Daemon;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.mailproxy.testkit.GreenMailUpstream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The assembled daemon against GreenMail (IMAPS, POP3S, SMTPS with the shared test CA) and the fake Microsoft
 * identity platform: one account logging in with XOAUTH2 tokens from client credentials, one with a password, and
 * local clients for each way a legacy app uses them.
 */
final class E2eFixture implements AutoCloseable {

    static final String TENANT = "contoso.onmicrosoft.com";
    static final String CLIENT_ID = "11111111-2222-3333-4444-555555555555";
    static final String CLIENT_SECRET = "Zq8~client-secret-value-Kx2";
    /** Mailbox whose upstream login is XOAUTH2 with a token from the fake identity platform. */
    static final String OAUTH_MAILBOX = "reports@contoso.com";
    /** Mailbox whose upstream login is a password. */
    static final String PW_MAILBOX = "scanner@contoso.com";
    /** A token GreenMail accepts for the oauth mailbox, for the tests' own direct look at the upstream. */
    static final String DIRECT_TOKEN = "direct-view-of-the-upstream";
    /** Mailbox whose upstream login is XOAUTH2 with a delegated token from a stored refresh token. */
    static final String DELEGATED_MAILBOX = "delegate@contoso.com";
    static final String DANA = "dana";
    static final String DANA_PW = "dana-local-Secret-4";
    static final String UPSTREAM_PASSWORD = "Upstr3am-pa55word!";

    /** Local clients: login name, password. */
    static final String ALICE = "alice";
    static final String ALICE_PW = "alice-local-Secret-9";
    static final String READER = "reader";
    static final String READER_PW = "reader-local-Secret-8";
    static final String POPPER = "popper";        // pop3 source = imap, on-delete = expunge
    static final String POPPER_PW = "popper-local-Secret-7";
    static final String PASSTHRU = "passthru";    // pop3 source = pop3, password account
    static final String PASSTHRU_PW = "passthru-local-Secret-6";
    static final String SENDER = "sender";        // smtp sender = rewrite
    static final String SENDER_PW = "sender-local-Secret-5";
    static final String REWRITE_FROM = "reports-desk@contoso.com";

    final GreenMailUpstream upstream;
    final FakeIdentityPlatform idp;
    final Daemon daemon;
    final GreenMailUser oauthUser;
    final GreenMailUser pwUser;
    final String masterKey;
    /** The refresh token the secret store was seeded with. */
    final String seededRefreshToken;
    /** Every XOAUTH2 token GreenMail was shown by the proxy. */
    final java.util.Queue<String> tokensSeen;
    /** XOAUTH2 logins GreenMail saw for the oauth mailbox (each one asks the token validator once). */
    private final AtomicInteger oauthLogins;

    private E2eFixture(GreenMailUpstream upstream, FakeIdentityPlatform idp, Daemon daemon, GreenMailUser oauthUser,
                       GreenMailUser pwUser, AtomicInteger oauthLogins, String masterKey, String seededRefreshToken,
                       java.util.Queue<String> tokensSeen) {
        this.oauthLogins = oauthLogins;
        this.masterKey = masterKey;
        this.seededRefreshToken = seededRefreshToken;
        this.tokensSeen = tokensSeen;
        this.upstream = upstream;
        this.idp = idp;
        this.daemon = daemon;
        this.oauthUser = oauthUser;
        this.pwUser = pwUser;
    }

    static E2eFixture start(Path stateDir) {
        return start(stateDir, "");
    }

    /** @param extra HOCON appended inside {@code mailproxy { }} (overrides) */
    static E2eFixture start(Path stateDir, String extra) {
        return start(stateDir, extra, idp -> { });
    }

    /** @param beforeDaemon runs after the fakes started and before the daemon does (e.g. to break the fakes) */
    static E2eFixture start(Path stateDir, String extra, java.util.function.Consumer<FakeIdentityPlatform> beforeDaemon) {
        GreenMailUpstream upstream = GreenMailUpstream.start();
        FakeIdentityPlatform idp = FakeIdentityPlatform.start().registerClient(CLIENT_ID, CLIENT_SECRET);
        beforeDaemon.accept(idp);
        AtomicInteger logins = new AtomicInteger();
        java.util.Queue<String> tokensSeen = new java.util.concurrent.ConcurrentLinkedQueue<>();
        GreenMailUser oauthUser = upstream.greenMail().setUser(OAUTH_MAILBOX, OAUTH_MAILBOX, "unused-" + System.nanoTime());
        ((UserImpl) oauthUser).setTokenValidator(token -> {
            if (DIRECT_TOKEN.equals(token)) {
                return true;
            }
            logins.incrementAndGet();
            tokensSeen.add(token);
            return idp.isValid(token, OAUTH_MAILBOX);
        });
        GreenMailUser delegated = upstream.greenMail().setUser(DELEGATED_MAILBOX, DELEGATED_MAILBOX, "unused-" + System.nanoTime());
        ((UserImpl) delegated).setTokenValidator(token -> {
            tokensSeen.add(token);
            return idp.isValid(token, DELEGATED_MAILBOX);
        });
        GreenMailUser pwUser = upstream.passwordUser(PW_MAILBOX, UPSTREAM_PASSWORD);
        try {
            String key = masterKey();
            String refreshToken = idp.issueRefreshToken(CLIENT_ID, DELEGATED_MAILBOX,
                    "https://outlook.office.com/IMAP.AccessAsUser.All offline_access");
            io.mailproxy.core.credentials.FileSecretStore store = io.mailproxy.core.credentials.FileSecretStore.open(
                    stateDir, Map.of("MAILPROXY_MASTER_KEY", key));
            store.put("app-secret", CLIENT_SECRET);
            store.put(io.mailproxy.core.credentials.TokenService.refreshTokenName("fake", DELEGATED_MAILBOX), refreshToken);
            MailproxyConfig config = ConfigLoader.parse(config(stateDir, upstream, idp, extra), "e2e.conf");
            Daemon daemon = Daemon.start(config, Map.of("MAILPROXY_MASTER_KEY", key));
            return new E2eFixture(upstream, idp, daemon, oauthUser, pwUser, logins, key, refreshToken, tokensSeen);
        } catch (RuntimeException | Error e) {
            idp.close();
            upstream.close();
            throw e;
        }
    }

    /** XOAUTH2 logins GreenMail saw for the oauth mailbox since start (pool warm-up included). */
    int upstreamOauthLogins() {
        return oauthLogins.get();
    }

    static String config(Path stateDir, GreenMailUpstream up, FakeIdentityPlatform idp, String extra) {
        return """
                mailproxy {
                  state-dir = "%s"
                  listeners = [
                    { protocol = imap, bind = "127.0.0.1", port = 0 }
                    { protocol = smtp, bind = "127.0.0.1", port = 0 }
                    %s
                  ]
                  upstreams.gm {
                    imap = "imaps://127.0.0.1:%d"
                    pop3 = "pop3s://127.0.0.1:%d"
                    smtp = "smtps://127.0.0.1:%d"
                    ca-file = "%s"
                    connect-timeout = 3s
                    handshake-timeout = 3s
                    reply-timeout = 5s
                  }
                  oauth2.fake {
                    token-endpoint = "%s"
                    client-id = "%s"
                    client-secret = "secret:app-secret"
                  }
                  accounts."%s" {
                    upstream = gm
                    auth { type = oauth2, provider = fake, grant = refresh-token }
                    pool.imap.acquire-timeout = 3s
                  }
                  accounts."%s" {
                    upstream = gm
                    auth { type = oauth2, provider = fake, grant = client-credentials }
                    from = "%s"
                    pool.imap.acquire-timeout = 3s
                    pool.smtp.acquire-timeout = 3s
                  }
                  accounts."%s" {
                    upstream = gm
                    auth { type = password, password = "%s" }
                    pool.imap.acquire-timeout = 3s
                    pool.smtp.acquire-timeout = 3s
                  }
                  clients.%s { password = "%s", account = "%s" }
                  clients.%s { password = "%s", account = "%s", imap.read-only = true }
                  clients.%s { password = "%s", account = "%s", pop3 { source = imap, on-delete = expunge } }
                  clients.%s { password = "%s", account = "%s", pop3 { source = pop3 } }
                  clients.%s { password = "%s", account = "%s", smtp { sender = rewrite } }
                  clients.%s { password = "%s", account = "%s" }
                  admin { enabled = false }
                  %s
                }
                """.formatted(stateDir,
                hasPop3() ? "{ protocol = pop3, bind = \"127.0.0.1\", port = 0 }" : "", up.imapsPort(), up.pop3sPort(), up.smtpsPort(), up.caPem(),
                idp.tokenEndpoint(TENANT), CLIENT_ID, DELEGATED_MAILBOX,
                OAUTH_MAILBOX, REWRITE_FROM,
                PW_MAILBOX, UPSTREAM_PASSWORD,
                ALICE, hash(ALICE_PW), OAUTH_MAILBOX,
                READER, hash(READER_PW), OAUTH_MAILBOX,
                POPPER, hash(POPPER_PW), OAUTH_MAILBOX,
                PASSTHRU, hash(PASSTHRU_PW), PW_MAILBOX,
                SENDER, hash(SENDER_PW), OAUTH_MAILBOX,
                DANA, hash(DANA_PW), DELEGATED_MAILBOX,
                extra);
    }

    private static final Map<String, String> HASHES = new java.util.concurrent.ConcurrentHashMap<>();

    /** Argon2 is slow on purpose: hash each test password once per JVM. */
    static String hash(String password) {
        return HASHES.computeIfAbsent(password, p -> PasswordHasher.hash(p.getBytes(StandardCharsets.UTF_8)));
    }

    static String masterKey() {
        byte[] key = new byte[32];
        new SecureRandom().nextBytes(key);
        return Base64.getEncoder().encodeToString(key);
    }

    InetSocketAddress imap() {
        return daemon.boundAddresses().get(0);
    }

    InetSocketAddress smtp() {
        return daemon.boundAddresses().get(1);
    }

    InetSocketAddress pop3() {
        return daemon.boundAddresses().get(2);
    }

    /** Whether the POP3 frontend is on the class path (it arrives on main later than the others). */
    static boolean hasPop3() {
        for (io.mailproxy.core.spi.FrontendFactory factory
                : java.util.ServiceLoader.load(io.mailproxy.core.spi.FrontendFactory.class)) {
            if (factory.protocol() == io.mailproxy.core.Protocol.POP3) {
                return true;
            }
        }
        return false;
    }

    /** The tests' own IMAPS connection to GreenMail, logged in to the oauth mailbox, INBOX selected. */
    LineClient directImap() throws java.io.IOException {
        String blob = Base64.getEncoder().encodeToString(("user=" + OAUTH_MAILBOX + "\u0001auth=Bearer " + DIRECT_TOKEN
                + "\u0001\u0001").getBytes(StandardCharsets.UTF_8));
        return directImap("AUTHENTICATE XOAUTH2 " + blob);
    }

    /** The tests' own IMAPS connection to GreenMail, logged in to the password mailbox, INBOX selected. */
    LineClient directImapPasswordMailbox() throws java.io.IOException {
        return directImap("LOGIN \"" + PW_MAILBOX + "\" \"" + UPSTREAM_PASSWORD + "\"");
    }

    private LineClient directImap(String login) throws java.io.IOException {
        LineClient c = LineClient.connectTls(io.mailproxy.testkit.TestCertificates.shared().clientSslContext(),
                upstream.host(), upstream.imapsPort());
        c.line();
        if (!c.imap("d1", login).get(0).startsWith("d1 OK")) {
            throw new IllegalStateException("direct login to GreenMail failed");
        }
        c.imap("d2", "SELECT INBOX");
        return c;
    }

    /** UIDs of the INBOX messages with this Subject, via a direct connection. */
    static java.util.List<Long> uidsWithSubject(LineClient direct, String subject) throws java.io.IOException {
        java.util.List<Long> uids = new java.util.ArrayList<>();
        for (String l : direct.imap("s" + System.nanoTime() % 1000, "UID SEARCH HEADER Subject \"" + subject + "\"")) {
            if (l.startsWith("* SEARCH")) {
                for (String n : l.substring("* SEARCH".length()).trim().split(" ")) {
                    if (!n.isEmpty()) {
                        uids.add(Long.parseLong(n));
                    }
                }
            }
        }
        return uids;
    }

    @Override
    public void close() {
        try {
            daemon.close();
        } finally {
            try {
                idp.close();
            } finally {
                upstream.close();
            }
        }
    }
}
