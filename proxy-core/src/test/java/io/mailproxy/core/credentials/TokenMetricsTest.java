package io.mailproxy.core.credentials;

import static io.mailproxy.core.credentials.Fixtures.APP;
import static io.mailproxy.core.credentials.Fixtures.IMAP;
import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AuthConfig.Grant;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.credentials.TestTime.ManualScheduler;
import io.mailproxy.testkit.MutableClock;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The token service's meters after real requests to the fake Microsoft identity platform. */
class TokenMetricsTest {
    private static final String SECRET = "app-secret-Q~abcdefghijklmnop";
    private static final String USER = "it-admin@contoso.com";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T20:00:00Z"));
    private final ManualScheduler scheduler = new ManualScheduler(clock);
    private final PrometheusMeterRegistry meters = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private FakeIdentityPlatform idp;
    private FileSecretStore store;
    private TokenService tokens;

    @BeforeEach
    void setUp() {
        idp = FakeIdentityPlatform.start().clock(clock);
        idp.registerClient("app", SECRET).registerPublicClient("public").addUser(USER, "user-password-1");
        store = Fixtures.store(dir);
        tokens = TokenService.builder(store).executor(Runnable::run).scheduler(scheduler).clock(clock)
                .timeouts(Duration.ofSeconds(5), Duration.ofSeconds(5)).meters(meters).build();
    }

    @AfterEach
    void tearDown() {
        tokens.close();
        idp.close();
        meters.close();
    }

    private OAuth2ProviderConfig confidential() {
        return Fixtures.provider(idp, "contoso", "app", Optional.of(new SecretRef.Stored("contoso-app")),
                Optional.empty(), Optional.empty());
    }

    private double requests(String grant, String outcome) {
        Counter c = meters.find("mailproxy.oauth2.token.requests").tag("provider", "contoso").tag("grant", grant)
                .tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    private static void await(CompletableFuture<?> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(TokenException.class);
        }
    }

    @Test
    void anIssuedTokenCountsAsOkAndItsExpiryCountsDown() throws Exception {
        store.put("contoso-app", SECRET);
        AccessToken token = tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "a@contoso.com", Protocol.IMAP,
                Optional.empty()).get(10, TimeUnit.SECONDS);

        assertThat(requests("client-credentials", "ok")).isEqualTo(1);
        Gauge expiry = meters.find("mailproxy.oauth2.token.expires").tag("provider", "contoso")
                .tag("grant", "client-credentials").tag("principal", "").tag("scope", APP).gauge();
        assertThat(expiry).isNotNull();
        assertThat(expiry.value()).isEqualTo(3599.0);
        clock.advance(Duration.ofMinutes(10));
        assertThat(expiry.value()).isEqualTo(2999.0);

        String scrape = meters.scrape();
        assertThat(scrape).contains("mailproxy_oauth2_token_requests_total{grant=\"client-credentials\","
                        + "outcome=\"ok\",provider=\"contoso\"} 1.0")
                .contains("mailproxy_oauth2_token_expires_seconds{grant=\"client-credentials\",principal=\"\","
                        + "provider=\"contoso\",scope=\"" + APP + "\"} 2999.0")
                .doesNotContain(token.value()).doesNotContain(SECRET);
    }

    @Test
    void anExpiredRefreshTokenCountsAsInvalidGrantAndAMissingOneSendsNothing() throws Exception {
        await(tokens.token(Fixtures.publicClient(idp, "contoso", "public"), Grant.REFRESH_TOKEN, USER, Protocol.IMAP,
                Optional.empty()));
        assertThat(meters.find("mailproxy.oauth2.token.requests").counters()).isEmpty();

        String rt = idp.issueRefreshToken("public", USER, IMAP + " offline_access");
        store.put(TokenService.refreshTokenName("contoso", USER), rt);
        idp.expireRefreshTokens(USER);
        tokens.storeRefreshToken("contoso", USER, rt); // forget the failure, retry at once
        await(tokens.token(Fixtures.publicClient(idp, "contoso", "public"), Grant.REFRESH_TOKEN, USER, Protocol.IMAP,
                Optional.empty()));

        assertThat(requests("refresh-token", "invalid_grant")).isEqualTo(1);
        Gauge expiry = meters.find("mailproxy.oauth2.token.expires").tag("principal", USER).gauge();
        assertThat(expiry.value()).isNaN();
        assertThat(meters.scrape()).doesNotContain(rt);
    }

    @Test
    void aWrongClientSecretCountsAsInvalidClient() throws Exception {
        store.put("contoso-app", "not-the-secret");
        await(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(requests("client-credentials", "invalid_client")).isEqualTo(1);
        assertThat(meters.scrape()).doesNotContain("not-the-secret");
    }

    @Test
    void aServerErrorCountsAsHttpErrorAndADownEndpointAsUnreachable() throws Exception {
        store.put("contoso-app", SECRET);
        idp.failWith(503);
        await(tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty()));
        assertThat(requests("client-credentials", "http_error")).isEqualTo(1);

        idp.stop();
        scheduler.advance(Duration.ofSeconds(5)); // the background retry after the back-off
        assertThat(requests("client-credentials", "unreachable")).isEqualTo(1);
        assertThat(requests("client-credentials", "ok")).isZero();
    }

    @Test
    void closingTheServiceRemovesTheExpiryGauges() throws Exception {
        store.put("contoso-app", SECRET);
        tokens.token(confidential(), Grant.CLIENT_CREDENTIALS, "", Protocol.IMAP, Optional.empty())
                .get(10, TimeUnit.SECONDS);
        assertThat(meters.find("mailproxy.oauth2.token.expires").gauges()).hasSize(1);
        tokens.close();
        assertThat(meters.find("mailproxy.oauth2.token.expires").gauges()).isEmpty();
    }
}
