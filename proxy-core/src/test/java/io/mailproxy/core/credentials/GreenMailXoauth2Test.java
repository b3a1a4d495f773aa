package io.mailproxy.core.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.icegreen.greenmail.user.UserImpl;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetupTest;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.AuthConfig.Grant;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import io.mailproxy.testkit.FakeIdentityPlatform;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.Session;
import jakarta.mail.Store;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A token from the service opens a real IMAP session (GreenMail validating bearer tokens against the fake). */
class GreenMailXoauth2Test {
    private static final String MAILBOX = "reports@contoso.com";

    @TempDir
    Path dir;

    private GreenMail greenMail;
    private FakeIdentityPlatform idp;
    private ExecutorService executor;
    private java.util.concurrent.ScheduledExecutorService timers;
    private TokenService tokens;

    @BeforeEach
    void setUp() {
        idp = FakeIdentityPlatform.start().registerClient("app", "app-secret");
        greenMail = new GreenMail(ServerSetupTest.IMAP.dynamicPort());
        greenMail.start();
        UserImpl user = (UserImpl) greenMail.setUser(MAILBOX, MAILBOX, "unused-password");
        user.setTokenValidator(token -> idp.isValid(token, MAILBOX));
        executor = Executors.newFixedThreadPool(2);
        FileSecretStore store = Fixtures.store(dir);
        store.put("contoso-app", "app-secret");
        timers = Executors.newSingleThreadScheduledExecutor();
        tokens = TokenService.builder(store).executor(executor).scheduler(Scheduler.of(timers)).build();
    }

    @AfterEach
    void tearDown() {
        tokens.close();
        executor.shutdownNow();
        timers.shutdownNow();
        greenMail.stop();
        idp.close();
    }

    private void imapLogin(String user, String token) throws Exception {
        Properties props = new Properties();
        props.put("mail.imap.host", "127.0.0.1");
        props.put("mail.imap.port", String.valueOf(greenMail.getImap().getPort()));
        props.put("mail.imap.auth.mechanisms", "XOAUTH2");
        props.put("mail.imap.connectiontimeout", "5000");
        props.put("mail.imap.timeout", "5000");
        Store store = Session.getInstance(props).getStore("imap");
        store.connect(user, token);
        try {
            assertThat(store.getFolder("INBOX").exists()).isTrue();
        } finally {
            store.close();
        }
    }

    @Test
    void bearerLoginOpensTheMailboxAndAForeignTokenDoesNot() throws Exception {
        DefaultUpstreamCredentials credentials = new DefaultUpstreamCredentials(
                Map.of("contoso", Fixtures.provider(idp, "contoso", "app",
                        Optional.of(SecretRef.parse("secret:contoso-app")), Optional.empty(), Optional.empty())),
                Fixtures.store(dir), tokens, executor, java.time.Clock.systemUTC());
        AccountConfig account = new AccountConfig(MAILBOX, MAILBOX, "office365", new AuthConfig.OAuth2("contoso",
                Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(), Optional.empty()), MAILBOX, Map.of());
        Login.Bearer bearer = (Login.Bearer) credentials.loginFor(account, Protocol.IMAP).get(10, TimeUnit.SECONDS);
        imapLogin(bearer.user(), bearer.token().value());
        assertThatThrownBy(() -> imapLogin(MAILBOX, "EwBIA8l6BAAUnot-a-token-the-idp-issued"))
                .isInstanceOf(AuthenticationFailedException.class);
    }
}
