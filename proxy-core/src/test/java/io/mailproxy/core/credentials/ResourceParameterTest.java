package io.mailproxy.core.credentials;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AuthConfig.Grant;
import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.credentials.TestTime.ManualScheduler;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.mailproxy.testkit.MutableClock;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * 21Vianet's password grant (ROPC) is reported to need the v1.0 {@code resource} parameter (email-oauth2-proxy,
 * GitHub #351): with a preset's {@code resource}, that grant goes to the v1.0 token endpoint with it.
 */
class ResourceParameterTest {
    private static final String USER = "scanner@contoso.partner.onmschina.cn";
    private static final String RESOURCE = "https://partner.outlook.cn";

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T20:00:00Z"));
    private FakeIdentityPlatform idp;
    private FileSecretStore store;
    private TokenService tokens;

    @BeforeEach
    void setUp() {
        idp = FakeIdentityPlatform.start().clock(clock).registerPublicClient("public").addUser(USER, "pw-1");
        store = Fixtures.store(dir);
        store.put("ropc-pw", "pw-1");
        tokens = TokenService.builder(store).executor(Runnable::run).scheduler(new ManualScheduler(clock)).clock(clock)
                .build();
    }

    @AfterEach
    void tearDown() {
        tokens.close();
        idp.close();
    }

    private OAuth2ProviderConfig provider(Optional<String> resource) {
        OAuth2ProviderConfig p = Fixtures.publicClient(idp, "china", "public");
        return new OAuth2ProviderConfig(p.name(), p.tenant(), p.tokenEndpoint(), p.deviceAuthorizationEndpoint(),
                p.authorizationEndpoint(), p.clientId(), p.clientSecret(), p.certificateFile(), p.privateKeyFile(),
                p.redirectUri(), List.of(RESOURCE + "/IMAP.AccessAsUser.All"), List.of(RESOURCE + "/POP.AccessAsUser.All"),
                List.of(RESOURCE + "/SMTP.Send"), List.of(RESOURCE + "/.default"), resource);
    }

    @Test
    void passwordGrantSendsTheResourceToTheV1Endpoint() throws Exception {
        AccessToken token = tokens.token(provider(Optional.of(RESOURCE)), Grant.PASSWORD, USER, Protocol.SMTP,
                Optional.of(SecretRef.parse("secret:ropc-pw"))).get(10, TimeUnit.SECONDS);
        assertThat(idp.isValid(token.value(), USER)).isTrue();
        assertThat(token.expiresAt()).isEqualTo(clock.instant().plusSeconds(3599)); // expires_in came as a string
        assertThat(idp.tokenRequests()).singleElement().satisfies(r -> {
            assertThat(r.path()).isEqualTo("/" + Fixtures.TENANT + "/oauth2/token");
            assertThat(r.form()).containsEntry("resource", RESOURCE).containsEntry("grant_type", "password")
                    .containsEntry("username", USER);
        });
    }

    @Test
    void withoutAResourceThePasswordGrantStaysOnV2() throws Exception {
        tokens.token(provider(Optional.empty()), Grant.PASSWORD, USER, Protocol.SMTP,
                Optional.of(SecretRef.parse("secret:ropc-pw"))).get(10, TimeUnit.SECONDS);
        assertThat(idp.tokenRequests()).singleElement().satisfies(r -> {
            assertThat(r.path()).isEqualTo("/" + Fixtures.TENANT + "/oauth2/v2.0/token");
            assertThat(r.form()).doesNotContainKey("resource");
        });
    }
}
