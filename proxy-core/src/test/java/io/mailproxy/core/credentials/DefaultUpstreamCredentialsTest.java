package io.mailproxy.core.credentials;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.AuthConfig.Grant;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.credentials.TestTime.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.testkit.FakeIdentityPlatform;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DefaultUpstreamCredentialsTest {
    private static final String APP_SECRET = "app-secret-Q~0123456789";
    private static final String DELEGATE = "it-admin@contoso.com";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T20:00:00Z"));
    private FakeIdentityPlatform idp;
    private FileSecretStore store;
    private TokenService tokens;
    private DefaultUpstreamCredentials credentials;

    @BeforeEach
    void setUp() {
        idp = FakeIdentityPlatform.start().clock(clock).registerClient("app", APP_SECRET).registerPublicClient("public")
                .addUser("ropc@contoso.com", "ropc-password");
        store = Fixtures.store(dir);
        tokens = TokenService.builder(store).executor(Runnable::run).scheduler(new ManualScheduler(clock)).clock(clock).build();
        OAuth2ProviderConfig app = Fixtures.provider(idp, "contoso", "app",
                Optional.of(SecretRef.parse("secret:contoso-app")), Optional.empty(), Optional.empty());
        OAuth2ProviderConfig pub = Fixtures.publicClient(idp, "contoso-public", "public");
        credentials = new DefaultUpstreamCredentials(Map.of("contoso", app, "contoso-public", pub), store, tokens,
                Runnable::run, clock);
    }

    @AfterEach
    void tearDown() {
        tokens.close();
        idp.close();
    }

    private static AccountConfig account(String name, String mailbox, AuthConfig auth) {
        return new AccountConfig(name, mailbox, "office365", auth, mailbox, Map.of());
    }

    private static Login login(CompletableFuture<Login> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    private static UpstreamException failure(CompletableFuture<Login> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(UpstreamException.class);
            return (UpstreamException) e.getCause();
        }
        throw new AssertionError("expected a failure");
    }

    @Test
    void passwordAccountResolvesItsSecretAtEachLogin() throws Exception {
        AccountConfig acct = account("imap.example.org", "reports@example.org",
                new AuthConfig.Password(Optional.of("reports"), SecretRef.parse("secret:reports-pw")));
        UpstreamException e = failure(credentials.loginFor(acct, Protocol.IMAP));
        assertThat(e.kind()).isEqualTo(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE);
        assertThat(e.getMessage()).isEqualTo("account imap.example.org: the password secret 'reports-pw' is not"
                + " stored; run ./mailproxy secret set reports-pw");
        assertThat(credentials.status().get("imap.example.org").ok()).isFalse();

        store.put("reports-pw", "pw-1"); // takes effect without a restart
        assertThat(login(credentials.loginFor(acct, Protocol.IMAP))).isEqualTo(new Login.Password("reports", "pw-1"));
        store.put("reports-pw", "pw-2");
        assertThat(login(credentials.loginFor(acct, Protocol.SMTP))).isEqualTo(new Login.Password("reports", "pw-2"));
        CredentialStatus status = credentials.status().get("imap.example.org");
        assertThat(status.ok()).isTrue();
        assertThat(status.lastError()).isEmpty();
        assertThat(status.lastSuccessAt()).contains(clock.instant());
    }

    @Test
    void literalPasswordDefaultsTheUserToTheMailbox() throws Exception {
        AccountConfig acct = account("a", "a@example.org", new AuthConfig.Password(Optional.empty(), SecretRef.parse("lit")));
        assertThat(login(credentials.loginFor(acct, Protocol.POP3))).isEqualTo(new Login.Password("a@example.org", "lit"));
    }

    @Test
    void clientCredentialsAccountLogsInAsItsMailbox() throws Exception {
        store.put("contoso-app", APP_SECRET);
        AccountConfig reports = account("reports@contoso.com", "reports@contoso.com",
                new AuthConfig.OAuth2("contoso", Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()));
        AccountConfig sales = account("sales@contoso.com", "sales@contoso.com",
                new AuthConfig.OAuth2("contoso", Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()));
        Login.Bearer a = (Login.Bearer) login(credentials.loginFor(reports, Protocol.IMAP));
        Login.Bearer b = (Login.Bearer) login(credentials.loginFor(sales, Protocol.SMTP));
        assertThat(a.user()).isEqualTo("reports@contoso.com");
        assertThat(b.user()).isEqualTo("sales@contoso.com");
        assertThat(b.token()).isEqualTo(a.token());
        assertThat(idp.isValid(a.token().value(), "reports@contoso.com")).isTrue();
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isEqualTo(1);
        assertThat(credentials.status().get("reports@contoso.com").tokenExpiresAt()).contains(a.token().expiresAt());
        assertThat(a.toString()).doesNotContain(a.token().value());
    }

    @Test
    void sharedMailboxUsesTheDelegatesRefreshToken() throws Exception {
        AccountConfig shared = account("shared", "shared@contoso.com",
                new AuthConfig.OAuth2("contoso-public", Grant.REFRESH_TOKEN, Optional.of(DELEGATE), Optional.empty(), Optional.empty()));
        UpstreamException e = failure(credentials.loginFor(shared, Protocol.IMAP));
        assertThat(e.kind()).isEqualTo(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE);
        assertThat(e.getMessage()).isEqualTo("account shared: no refresh token stored for it-admin@contoso.com at"
                + " provider contoso-public (secret 'oauth2-refresh:contoso-public:it-admin@contoso.com');"
                + " run ./mailproxy login shared");
        assertThat(credentials.status().get("shared").lastError()).contains(e.getMessage());

        tokens.storeRefreshToken("contoso-public", DELEGATE,
                idp.issueRefreshToken("public", DELEGATE, Fixtures.IMAP + " offline_access"));
        Login.Bearer bearer = (Login.Bearer) login(credentials.loginFor(shared, Protocol.IMAP));
        assertThat(bearer.user()).isEqualTo("shared@contoso.com");
        assertThat(idp.isValid(bearer.token().value(), DELEGATE)).isTrue();
        assertThat(credentials.status().get("shared").ok()).isTrue();
    }

    /**
     * Exchange Online takes a shared mailbox's name in XOAUTH2 user= on IMAP and POP3, but SMTP refuses it with
     * 535 5.7.3 and wants the token's own user (the delegate), who then sends as the shared mailbox.
     */
    @Test
    void sharedMailboxLogsInToSmtpAsTheDelegateAndToImapAndPop3AsTheSharedMailbox() throws Exception {
        AccountConfig shared = account("shared", "shared@contoso.com",
                new AuthConfig.OAuth2("contoso-public", Grant.REFRESH_TOKEN, Optional.of(DELEGATE), Optional.empty(), Optional.empty()));
        tokens.storeRefreshToken("contoso-public", DELEGATE,
                idp.issueRefreshToken("public", DELEGATE, Fixtures.IMAP + " offline_access"));
        Login.Bearer smtp = (Login.Bearer) login(credentials.loginFor(shared, Protocol.SMTP));
        assertThat(smtp.user()).isEqualTo(DELEGATE);
        assertThat(idp.isValid(smtp.token().value(), DELEGATE)).isTrue();
        assertThat(((Login.Bearer) login(credentials.loginFor(shared, Protocol.IMAP))).user()).isEqualTo("shared@contoso.com");
        assertThat(((Login.Bearer) login(credentials.loginFor(shared, Protocol.POP3))).user()).isEqualTo("shared@contoso.com");
    }

    @Test
    void appOnlySharedMailboxLogsInToSmtpAsTheMailbox() throws Exception {
        store.put("contoso-app", APP_SECRET);
        AccountConfig shared = account("shared", "shared@contoso.com", new AuthConfig.OAuth2("contoso",
                Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()));
        assertThat(((Login.Bearer) login(credentials.loginFor(shared, Protocol.SMTP))).user()).isEqualTo("shared@contoso.com");
    }

    @Test
    void ropcSharedMailboxLogsInToSmtpAsTheUserWhoseTokenItIs() throws Exception {
        store.put("ropc-pw", "ropc-password");
        AccountConfig acct = account("shared", "shared@contoso.com", new AuthConfig.OAuth2("contoso-public",
                Grant.PASSWORD, Optional.empty(), Optional.of("ropc@contoso.com"),
                Optional.of(SecretRef.parse("secret:ropc-pw"))));
        assertThat(((Login.Bearer) login(credentials.loginFor(acct, Protocol.SMTP))).user()).isEqualTo("ropc@contoso.com");
        assertThat(((Login.Bearer) login(credentials.loginFor(acct, Protocol.IMAP))).user()).isEqualTo("shared@contoso.com");
    }

    @Test
    void expiredRefreshTokenAsksForALogin() throws Exception {
        AccountConfig acct = account("me", DELEGATE,
                new AuthConfig.OAuth2("contoso-public", Grant.REFRESH_TOKEN, Optional.empty(), Optional.empty(), Optional.empty()));
        tokens.storeRefreshToken("contoso-public", DELEGATE, idp.issueRefreshToken("public", DELEGATE, Fixtures.IMAP));
        idp.expireRefreshTokens(DELEGATE);
        UpstreamException e = failure(credentials.loginFor(acct, Protocol.IMAP));
        assertThat(e.getMessage()).contains("invalid_grant: AADSTS700082: The refresh token has expired due to"
                + " inactivity.").endsWith("; run ./mailproxy login me");
    }

    /** Refusals a retry never fixes say what to do, by AADSTS number (Entra's error code reference). */
    @Test
    void microsoftRefusalsSayWhatToDo() {
        AccountConfig acct = account("me", DELEGATE,
                new AuthConfig.OAuth2("contoso-public", Grant.REFRESH_TOKEN, Optional.empty(), Optional.empty(), Optional.empty()));
        java.util.function.BiFunction<Long, String, String> said = (code, error) -> DefaultUpstreamCredentials.translate(
                acct, new TokenException(TokenException.Reason.REJECTED, "provider contoso-public refused the"
                        + " refresh_token grant for " + DELEGATE + ": " + error + ": AADSTS" + code + ": text", error,
                        List.of(code), null)).getMessage();
        assertThat(said.apply(70043L, "invalid_grant")).contains("AADSTS70043").contains("sign-in frequency")
                .contains("./mailproxy login").contains("app-only");
        assertThat(said.apply(50076L, "invalid_grant")).contains("multi-factor").contains("grant = refresh-token");
        assertThat(said.apply(50078L, "invalid_grant")).contains("has expired").contains("./mailproxy login");
        assertThat(said.apply(50079L, "invalid_grant")).contains("register multi-factor");
        assertThat(said.apply(7000222L, "invalid_client")).contains("client secret has expired")
                .contains("./mailproxy secret set NAME");
        assertThat(said.apply(530035L, "access_denied")).contains("security defaults");
        assertThat(said.apply(50173L, "invalid_grant")).contains("revoked").contains("./mailproxy login");
        // a code without advice keeps the generic hint
        assertThat(said.apply(700082L, "invalid_grant")).endsWith("; run ./mailproxy login me");
    }

    @Test
    void ropcAccount() throws Exception {
        store.put("ropc-pw", "ropc-password");
        AccountConfig acct = account("ropc", "ropc@contoso.com", new AuthConfig.OAuth2("contoso-public", Grant.PASSWORD,
                Optional.empty(), Optional.empty(), Optional.of(SecretRef.parse("secret:ropc-pw"))));
        Login.Bearer bearer = (Login.Bearer) login(credentials.loginFor(acct, Protocol.SMTP));
        assertThat(idp.isValid(bearer.token().value(), "ropc@contoso.com")).isTrue();
    }

    @Test
    void missingClientSecretAndEndpointDownAreCredentialsUnavailable() throws Exception {
        AccountConfig acct = account("reports", "reports@contoso.com",
                new AuthConfig.OAuth2("contoso", Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()));
        UpstreamException missing = failure(credentials.loginFor(acct, Protocol.IMAP));
        assertThat(missing.getMessage()).isEqualTo("account reports: secret 'contoso-app' (client secret of provider"
                + " contoso) is not stored: run ./mailproxy secret set contoso-app");
        store.put("contoso-app", APP_SECRET);
        idp.stop();
        UpstreamException down = failure(credentials.loginFor(acct, Protocol.IMAP));
        assertThat(down.kind()).isEqualTo(UpstreamException.Kind.CREDENTIALS_UNAVAILABLE);
        assertThat(down.getMessage()).contains("token endpoint http://127.0.0.1:").contains("unreachable");
    }

    @Test
    void unknownProviderIsCredentialsUnavailable() throws Exception {
        AccountConfig acct = account("x", "x@contoso.com",
                new AuthConfig.OAuth2("nope", Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()));
        assertThat(failure(credentials.loginFor(acct, Protocol.IMAP)).getMessage())
                .isEqualTo("account x: OAuth 2.0 provider 'nope' is not configured");
    }

    @Test
    void invalidateMakesTheNextLoginFetchANewToken() throws Exception {
        store.put("contoso-app", APP_SECRET);
        AccountConfig acct = account("reports", "reports@contoso.com",
                new AuthConfig.OAuth2("contoso", Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()));
        Login.Bearer first = (Login.Bearer) login(credentials.loginFor(acct, Protocol.IMAP));
        credentials.invalidate(acct, Protocol.IMAP);
        Login.Bearer second = (Login.Bearer) login(credentials.loginFor(acct, Protocol.IMAP));
        assertThat(second.token().value()).isNotEqualTo(first.token().value());
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isEqualTo(2);
    }

    @Test
    void warmUpFetchesTokensAndRecordsFailuresWithoutThrowing() throws Exception {
        store.put("contoso-app", APP_SECRET);
        AccountConfig app = account("reports", "reports@contoso.com",
                new AuthConfig.OAuth2("contoso", Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()));
        AccountConfig noLogin = account("me", DELEGATE,
                new AuthConfig.OAuth2("contoso-public", Grant.REFRESH_TOKEN, Optional.empty(), Optional.empty(), Optional.empty()));
        AccountConfig pw = account("pw", "pw@example.org", new AuthConfig.Password(Optional.empty(), SecretRef.parse("x")));
        credentials.warmUp(List.of(app, noLogin, pw)).get(10, TimeUnit.SECONDS);
        assertThat(credentials.status().keySet()).containsExactly("me", "reports");
        assertThat(credentials.status().get("reports").ok()).isTrue();
        assertThat(credentials.status().get("me").lastError()).hasValueSatisfying(m ->
                assertThat(m).endsWith("run ./mailproxy login me"));
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isEqualTo(1);
    }

    @Test
    void noSecretInLogsOrMessages() throws Exception {
        try (Fixtures.LogCapture logs = new Fixtures.LogCapture()) {
            store.put("contoso-app", "wrong-app-secret");
            AccountConfig acct = account("reports", "reports@contoso.com",
                    new AuthConfig.OAuth2("contoso", Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()));
            UpstreamException e = failure(credentials.loginFor(acct, Protocol.IMAP));
            assertThat(e.getMessage()).contains("AADSTS7000215").endsWith("(./mailproxy secret set NAME)");
            AccountConfig pw = account("pw", "pw@example.org",
                    new AuthConfig.Password(Optional.empty(), SecretRef.parse("literal-password-value")));
            Login login = login(credentials.loginFor(pw, Protocol.IMAP));
            assertThat(login.toString()).doesNotContain("literal-password-value");
            for (String v : List.of("wrong-app-secret", "literal-password-value")) {
                assertThat(logs.text()).doesNotContain(v);
                assertThat(e.toString()).doesNotContain(v);
                assertThat(credentials.status().toString()).doesNotContain(v);
            }
            assertThat(logs.text()).contains("account reports: provider contoso refused the client_credentials grant");
        }
    }
}
