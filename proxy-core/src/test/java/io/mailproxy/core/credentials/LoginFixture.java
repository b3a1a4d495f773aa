package io.mailproxy.core.credentials;

import io.mailproxy.core.config.OAuth2ProviderConfig;
import io.mailproxy.core.credentials.TestTime.ManualScheduler;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.mailproxy.testkit.MutableClock;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the tests of {@code ./mailproxy login}'s library side share: a fake identity platform with a public client,
 * a token service over a file secret store, on a clock the test moves.
 */
abstract class LoginFixture {
    static final String USER = "it-admin@contoso.com";

    @TempDir
    Path dir;

    final MutableClock clock;
    final ManualScheduler scheduler;
    FakeIdentityPlatform idp;
    FileSecretStore store;
    TokenService tokens;
    OAuth2ProviderConfig provider;

    LoginFixture(Instant start) {
        clock = new MutableClock(start);
        scheduler = new ManualScheduler(clock);
    }

    @BeforeEach
    void setUp() {
        idp = FakeIdentityPlatform.start().clock(clock).registerPublicClient("public");
        store = Fixtures.store(dir);
        tokens = TokenService.builder(store).executor(Runnable::run).scheduler(scheduler).clock(clock).build();
        provider = Fixtures.publicClient(idp, "contoso", "public");
    }

    @AfterEach
    void tearDown() {
        tokens.close();
        idp.close();
    }
}
