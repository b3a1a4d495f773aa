package io.mailproxy.core.credentials;

import static io.mailproxy.core.credentials.Fixtures.APP;
import static io.mailproxy.core.credentials.Fixtures.IMAP;
import static io.mailproxy.core.credentials.Fixtures.SMTP;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AuthConfig.Grant;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.credentials.TestTime.GateExecutor;
import io.mailproxy.core.credentials.TestTime.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.mailproxy.testkit.FakeIdentityPlatformClientCertificate;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenServiceTest {
    private static final String SECRET = "app-secret-Q~abcdefghijklmnop";
    private static final String USER = "it-admin@contoso.com";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T20:00:00Z"));
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private FakeIdentityPlatform idp;
    private FileSecretStore store;
    private TokenService tokens;

    @BeforeEach
    void setUp() {
        idp = FakeIdentityPlatform.start().clock(clock);
        idp.registerClient("app", SECRET).registerPublicClient("public").addUser(USER, "user-password-1");
        store = Fixtures.store(dir);
    }

    @AfterEach
    void tearDown() {
        if (tokens != null) {
            tokens.close();
        }
        idp.close();
    }

    private TokenService service(Executor executor) {
        tokens = TokenService.builder(store).executor(executor).scheduler(scheduler).clock(clock)
                .timeouts(Duration.ofSeconds(5), Duration.ofSeconds(5)).build();
        return tokens;
    }

    private TokenService service() {
        return service(Runnable::run);
    }

    private OAuth2ProviderConfig confidential() {
        return Fixtures.provider(idp, "contoso", "app", Optional.of(new SecretRef.Stored("contoso-app")),
                Optional.empty(), Optional.empty());
    }

    private OAuth2ProviderConfig publicClient() {
        return Fixtures.publicClient(idp, "contoso", "public");
    }

    private static AccessToken get(CompletableFuture<AccessToken> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    private static TokenException failure(CompletableFuture<?> f) {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(TokenException.class);
            return (TokenException) e.getCause();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        throw new AssertionError("expected a failure");
    }

    private String seedRefreshToken(String principal) {
        String rt = idp.issueRefreshToken("public", principal, IMAP + " offline_access");
        store.put(TokenService.refreshTokenName("contoso", principal), rt);
        return rt;
    }

    // ------------------------------------------------------------------------------------ client credentials

    @Test
    void clientCredentialsWithSecretServesEveryMailboxFromOneToken() throws Exception {
        store.put("contoso-app", SECRET);
        service();
        AccessToken imap = get(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "a@contoso.com", Protocol.IMAP, Optional.empty()));
        AccessToken smtp = get(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "b@contoso.com", Protocol.SMTP, Optional.empty()));
        assertThat(smtp.value()).isEqualTo(imap.value());
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isEqualTo(1);
        assertThat(idp.isValid(imap.value(), "a@contoso.com")).isTrue();
        assertThat(idp.isValid(imap.value(), "b@contoso.com")).isTrue();
        assertThat(imap.expiresAt()).isEqualTo(clock.instant().plusSeconds(3599));
        TokenKey key = TokenService.key(confidential(), Grant.CLIENT_CREDENTIALS, "x", Protocol.POP3);
        assertThat(key).isEqualTo(new TokenKey("contoso", Grant.CLIENT_CREDENTIALS, APP, ""));
        assertThat(tokens.status(key).orElseThrow().ok(clock.instant())).isTrue();
    }

    @Test
    void wrongClientSecretSurfacesAadstsInStatus() throws Exception {
        store.put("contoso-app", "not-the-secret");
        service();
        TokenException e = failure(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(e.reason()).isEqualTo(TokenException.Reason.REJECTED);
        assertThat(e.error()).contains("invalid_client");
        assertThat(e.errorCodes()).containsExactly(7000215L);
        assertThat(e.getMessage()).startsWith("provider contoso refused the client_credentials grant: invalid_client:"
                + " AADSTS7000215: Invalid client secret provided.").doesNotContain("Trace ID").doesNotContain("not-the-secret");
        TokenStatus status = tokens.status().values().iterator().next();
        assertThat(status.lastError()).hasValueSatisfying(m -> assertThat(m).contains("AADSTS7000215"));
        assertThat(status.ok(clock.instant())).isFalse();
    }

    @Test
    void missingClientSecretSaysWhichCommandStoresIt() {
        service();
        TokenException e = failure(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(e.reason()).isEqualTo(TokenException.Reason.SECRET_MISSING);
        assertThat(e.getMessage()).contains("./mailproxy secret set contoso-app");
        assertThat(idp.requests()).isZero();
    }

    @Test
    void privateKeyJwtWithCertificateIsAcceptedWithMicrosoftsThumbprintHeaders() throws Exception {
        FakeIdentityPlatformClientCertificate cert = FakeIdentityPlatformClientCertificate.generate("mailproxy");
        idp.registerCertificateClient("cert-app", cert.certificate());
        Path[] pem = cert.writePem(dir);
        OAuth2ProviderConfig provider = Fixtures.provider(idp, "contoso", "cert-app", Optional.empty(),
                Optional.of(pem[0]), Optional.of(pem[1]));
        service();
        AccessToken token = get(tokens.token(provider, Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(idp.isValid(token.value(), "reports@contoso.com")).isTrue();
        assertThat(idp.clientAssertionHeaders()).singleElement().satisfies(h ->
                assertThat(h).contains("\"x5t\"").contains("\"x5t#S256\"").contains("\"RS256\""));
    }

    @Test
    void clockSkewOfTheSignedAssertionIsSaidAsSuch() throws Exception {
        FakeIdentityPlatformClientCertificate cert = FakeIdentityPlatformClientCertificate.generate("mailproxy");
        idp.registerCertificateClient("cert-app", cert.certificate());
        Path[] pem = cert.writePem(dir);
        OAuth2ProviderConfig provider = Fixtures.provider(idp, "contoso", "cert-app", Optional.empty(),
                Optional.of(pem[0]), Optional.of(pem[1]));
        // the identity platform's clock is an hour ahead of ours
        MutableClock idpClock = new MutableClock(clock.instant().plus(Duration.ofHours(1)));
        idp.clock(idpClock);
        service();
        TokenException e = failure(tokens.token(provider, Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(e.reason()).isEqualTo(TokenException.Reason.CLOCK_SKEW);
        assertThat(e.errorCodes()).containsExactly(700024L);
        assertThat(e.getMessage()).startsWith("clock skew: provider contoso refused the signed client assertion")
                .contains("check this machine's clock").contains("AADSTS700024: Client assertion is not within its valid time range");
    }

    @Test
    void certificateFileMissingIsAConfigurationError() {
        OAuth2ProviderConfig provider = Fixtures.provider(idp, "contoso", "cert-app", Optional.empty(),
                Optional.of(dir.resolve("nope.crt")), Optional.empty());
        service();
        TokenException e = failure(tokens.token(provider, Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(e.reason()).isEqualTo(TokenException.Reason.CONFIGURATION);
        assertThat(e.getMessage()).contains("nope.crt");
    }

    // ------------------------------------------------------------------------------------ refresh tokens

    @Test
    void refreshTokenRotationIsPersistedEncrypted() throws Exception {
        String seeded = seedRefreshToken(USER);
        service();
        AccessToken token = get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        assertThat(idp.isValid(token.value(), USER)).isTrue();
        String rotated = store.get(TokenService.refreshTokenName("contoso", USER)).orElseThrow();
        assertThat(rotated).isNotEqualTo(seeded);
        assertThat(idp.refreshTokenValid(seeded)).isFalse();
        assertThat(idp.refreshTokenValid(rotated)).isTrue();
        String onDisk = new String(Files.readAllBytes(store.file()), StandardCharsets.ISO_8859_1);
        assertThat(onDisk).doesNotContain(rotated).doesNotContain("fake-rt");
        // a fresh store instance (a restart) reads the rotated one, and it works
        assertThat(Fixtures.store(dir).get(TokenService.refreshTokenName("contoso", USER))).contains(rotated);
        AccessToken smtp = get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.SMTP, Optional.empty()));
        assertThat(smtp.value()).isNotEqualTo(token.value());
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_REFRESH_TOKEN)).isEqualTo(2);
    }

    @Test
    void missingRefreshTokenFailsWithoutAnHttpRequest() {
        service();
        TokenException e = failure(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        assertThat(e.reason()).isEqualTo(TokenException.Reason.REFRESH_TOKEN_MISSING);
        assertThat(e.getMessage()).isEqualTo("no refresh token stored for it-admin@contoso.com at provider contoso"
                + " (secret 'oauth2-refresh:contoso:it-admin@contoso.com')");
        assertThat(idp.requests()).isZero();
        assertThat(tokens.hasRefreshToken("contoso", USER)).isFalse();
    }

    @Test
    void expiredRefreshTokenKeepsTheStoredTokenAndReportsAadsts700082() throws Exception {
        String seeded = seedRefreshToken(USER);
        idp.expireRefreshTokens(USER);
        service();
        TokenException e = failure(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        assertThat(e.error()).contains("invalid_grant");
        assertThat(e.errorCodes()).containsExactly(700082L);
        assertThat(e.getMessage()).contains("AADSTS700082: The refresh token has expired due to inactivity.");
        assertThat(store.get(TokenService.refreshTokenName("contoso", USER))).contains(seeded);
        TokenStatus status = tokens.status(TokenService.key(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP)).orElseThrow();
        assertThat(status.lastError()).hasValueSatisfying(m -> assertThat(m).contains("AADSTS700082"));
        assertThat(status.failures()).isEqualTo(1);
        // retried in the background with backoff; still never deleted
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(5));
        scheduler.advance(Duration.ofSeconds(5));
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(10));
        assertThat(store.get(TokenService.refreshTokenName("contoso", USER))).contains(seeded);
        // a login supplies a new refresh token: the next request succeeds at once
        tokens.storeRefreshToken("contoso", USER, idp.issueRefreshToken("public", USER, IMAP));
        AccessToken token = get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        assertThat(idp.isValid(token.value(), USER)).isTrue();
        assertThat(tokens.status(status.key()).orElseThrow().lastError()).isEmpty();
    }

    @Test
    void ropcPasswordGrantUsesTheStoredPassword() throws Exception {
        store.put("ropc-pw", "user-password-1");
        service();
        AccessToken token = get(tokens.token(publicClient(), Grant.PASSWORD, USER, Protocol.SMTP,
                Optional.of(new SecretRef.Stored("ropc-pw"))));
        assertThat(idp.isValid(token.value(), USER)).isTrue();
        assertThat(idp.isValid(token.value(), "someone-else@contoso.com")).isFalse();
        store.put("ropc-pw", "wrong");
        tokens.invalidate(TokenService.key(publicClient(), Grant.PASSWORD, USER, Protocol.SMTP));
        TokenException e = failure(tokens.token(publicClient(), Grant.PASSWORD, USER, Protocol.SMTP,
                Optional.of(new SecretRef.Stored("ropc-pw"))));
        assertThat(e.errorCodes()).containsExactly(50126L);
        assertThat(e.getMessage()).contains("refused the password grant for it-admin@contoso.com: invalid_grant:"
                + " AADSTS50126: Error validating credentials due to invalid username or password.");
    }

    // ------------------------------------------------------------------------------------ caching

    @Test
    void concurrentCallersShareOneRequest() throws Exception {
        seedRefreshToken(USER);
        GateExecutor gate = new GateExecutor();
        service(gate);
        List<CompletableFuture<AccessToken>> waiting = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            waiting.add(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        }
        assertThat(gate.held()).isEqualTo(1);
        assertThat(waiting).noneMatch(CompletableFuture::isDone);
        assertThat(idp.requests()).isZero(); // nothing ran on the callers' thread
        gate.release();
        String first = get(waiting.get(0)).value();
        for (CompletableFuture<AccessToken> f : waiting) {
            assertThat(get(f).value()).isEqualTo(first);
        }
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_REFRESH_TOKEN)).isEqualTo(1);
    }

    @Test
    void refreshesInTheBackgroundBeforeExpiry() throws Exception {
        seedRefreshToken(USER);
        service();
        AccessToken first = get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        // 3599 s life: 15 minutes before expiry comes before 80% of life
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(3599 - 900));
        scheduler.advance(Duration.ofMinutes(30));
        assertThat(get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty())))
                .isEqualTo(first);
        scheduler.advance(Duration.ofSeconds(3599 - 900).minus(Duration.ofMinutes(30)));
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_REFRESH_TOKEN)).isEqualTo(2);
        AccessToken second = get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        assertThat(second.value()).isNotEqualTo(first.value());
        assertThat(second.expiresAt()).isEqualTo(clock.instant().plusSeconds(3599));
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_REFRESH_TOKEN)).isEqualTo(2);
    }

    @Test
    void longLivedTokensRefreshAtEightyPercentShortOnesAtHalfLife() throws Exception {
        idp.expiresIn(Duration.ofMinutes(90));
        store.put("contoso-app", SECRET);
        service();
        get(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(scheduler.pending()).containsExactly(Duration.ofMinutes(72));
        idp.expiresIn(Duration.ofMinutes(20));
        tokens.invalidate(TokenService.key(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP));
        get(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(scheduler.pending()).containsExactly(Duration.ofMinutes(10));
    }

    @Test
    void failedBackgroundRefreshKeepsTheValidTokenAndBacksOff() throws Exception {
        String seeded = seedRefreshToken(USER);
        service();
        AccessToken first = get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        String rotated = store.get(TokenService.refreshTokenName("contoso", USER)).orElseThrow();
        assertThat(rotated).isNotEqualTo(seeded);
        idp.failWith(500);
        tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()); // in use
        scheduler.advance(Duration.ofSeconds(3599 - 900));
        TokenKey key = TokenService.key(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP);
        TokenStatus status = tokens.status(key).orElseThrow();
        assertThat(status.lastError()).hasValueSatisfying(m -> assertThat(m).contains("answered HTTP 500"));
        assertThat(status.expiresAt()).contains(first.expiresAt());
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(5));
        // callers still get the old token, which has 15 minutes left
        assertThat(get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty())))
                .isEqualTo(first);
        scheduler.advance(Duration.ofSeconds(5));
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(10));
        scheduler.advance(Duration.ofSeconds(10));
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(20));
        assertThat(tokens.status(key).orElseThrow().failures()).isEqualTo(3);
        assertThat(store.get(TokenService.refreshTokenName("contoso", USER))).contains(rotated);
        idp.failWith(0);
        scheduler.advance(Duration.ofSeconds(20));
        assertThat(tokens.status(key).orElseThrow().lastError()).isEmpty();
        AccessToken next = get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        assertThat(next.value()).isNotEqualTo(first.value());
        assertThat(idp.isValid(next.value(), USER)).isTrue();
    }

    @Test
    void backoffIsCapped() throws Exception {
        store.put("contoso-app", SECRET);
        idp.failWith(503);
        tokens = TokenService.builder(store).executor(Runnable::run).scheduler(scheduler).clock(clock)
                .retryBackoff(Duration.ofSeconds(5), Duration.ofSeconds(30)).build();
        failure(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        scheduler.advance(Duration.ofSeconds(5 + 10 + 20));
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(30));
    }

    @Test
    void unusedRefreshTokenIsStillRedeemedDaily() throws Exception {
        seedRefreshToken(USER);
        service();
        get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
        scheduler.advance(Duration.ofSeconds(3599 - 900));
        // nobody asked since the fetch: no refresh now, one keep-alive a day after the last one
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_REFRESH_TOKEN)).isEqualTo(1);
        assertThat(scheduler.pending()).containsExactly(Duration.ofHours(24).minus(Duration.ofSeconds(3599 - 900)));
        scheduler.advance(Duration.ofHours(24));
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_REFRESH_TOKEN)).isEqualTo(2);
        scheduler.advance(Duration.ofDays(3));
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_REFRESH_TOKEN)).isEqualTo(5);
    }

    @Test
    void endpointDownIsUnavailableAndFailsFastDuringBackoff() throws Exception {
        store.put("contoso-app", SECRET);
        OAuth2ProviderConfig provider = confidential();
        idp.stop();
        service();
        TokenException e = failure(tokens.token(provider, Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(e.reason()).isEqualTo(TokenException.Reason.ENDPOINT_UNAVAILABLE);
        assertThat(e.getMessage()).startsWith("token endpoint " + provider.tokenEndpoint() + " unreachable: ConnectException");
        TokenException again = failure(tokens.token(provider, Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(again).isSameAs(e);
    }

    @Test
    void loginsRetryWithinThirtySecondsOfTheLastFailureHoweverLongTheBackoffGrew() throws Exception {
        store.put("contoso-app", SECRET);
        OAuth2ProviderConfig provider = confidential();
        idp.failWith(500);
        service();
        failure(tokens.token(provider, Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        scheduler.advance(Duration.ofSeconds(5 + 10 + 20 + 40 + 80)); // background retries: the backoff is 160 s now
        int requests = idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS);
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(160));
        idp.failWith(0);
        clock.advance(Duration.ofSeconds(29));
        failure(tokens.token(provider, Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).as("fails fast within 30 s")
                .isEqualTo(requests);
        clock.advance(Duration.ofSeconds(1));
        AccessToken token = get(tokens.token(provider, Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(idp.isValid(token.value(), USER)).isTrue();
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isEqualTo(requests + 1);
    }

    @Test
    void plainHttpIsRefusedExceptOnLoopback() {
        store.put("contoso-app", SECRET);
        OAuth2ProviderConfig remote = new OAuth2ProviderConfig("evil", Optional.empty(),
                java.net.URI.create("http://login.example.com/t/oauth2/v2.0/token"), null, null, "app",
                Optional.of(new SecretRef.Stored("contoso-app")), Optional.empty(), Optional.empty(), Optional.empty(),
                List.of(), List.of(), List.of(), List.of(APP));
        service();
        TokenException e = failure(tokens.token(remote, Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(e.reason()).isEqualTo(TokenException.Reason.CONFIGURATION);
        assertThat(e.getMessage()).contains("is not https://");
    }

    @Test
    void invalidateDropsTheCachedToken() throws Exception {
        store.put("contoso-app", SECRET);
        service();
        AccessToken first = get(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        tokens.invalidate(TokenService.key(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP));
        AccessToken second = get(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(second.value()).isNotEqualTo(first.value());
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isEqualTo(2);
    }

    @Test
    void noTokenSecretOrPasswordReachesTheLog() throws Exception {
        try (Fixtures.LogCapture logs = new Fixtures.LogCapture()) {
            store.put("contoso-app", SECRET);
            store.put("ropc-pw", "user-password-1");
            String rt = seedRefreshToken(USER);
            service();
            List<String> values = new ArrayList<>(List.of(SECRET, "user-password-1", rt));
            values.add(get(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty())).value());
            values.add(get(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty())).value());
            values.add(store.get(TokenService.refreshTokenName("contoso", USER)).orElseThrow());
            values.add(get(tokens.token(publicClient(), Grant.PASSWORD, USER, Protocol.SMTP,
                    Optional.of(new SecretRef.Stored("ropc-pw")))).value());
            TokenKey rtKey = TokenService.key(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP);
            idp.failWith(500);
            tokens.invalidate(rtKey);
            failure(tokens.token(publicClient(), Grant.REFRESH_TOKEN, USER, Protocol.IMAP, Optional.empty()));
            idp.failWith(0);
            idp.revokeRefreshTokens(USER);
            scheduler.advance(Duration.ofSeconds(5));
            assertThat(tokens.status(rtKey).orElseThrow().lastError()).hasValueSatisfying(m -> assertThat(m).contains("AADSTS50173"));
            store.put("contoso-app", "wrong-secret-value");
            tokens.invalidate(TokenService.key(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP));
            values.add("wrong-secret-value");
            TokenException e = failure(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
            String logged = logs.text();
            assertThat(logged).contains("AADSTS50173").contains("AADSTS7000215").contains("HTTP 500");
            for (String v : values) {
                assertThat(logged).doesNotContain(v);
                assertThat(e.getMessage()).doesNotContain(v);
                assertThat(tokens.status().toString()).doesNotContain(v);
            }
        }
    }
}
