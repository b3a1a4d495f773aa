package io.mailproxy.core.credentials;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AuthConfig.Grant;
import io.mailproxy.testkit.FakeIdentityPlatform;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code ./mailproxy login}'s library side: device code and authorization code with PKCE. */
class InteractiveLoginTest extends LoginFixture {
    InteractiveLoginTest() {
        super(Instant.parse("2026-11-25T20:00:00Z"));
    }

    private static TokenException failure(CompletableFuture<?> f) throws Exception {
        try {
            f.get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return (TokenException) e.getCause();
        }
        throw new AssertionError("expected a failure");
    }

    private void assertRefreshTokenWorks() throws Exception {
        AccessToken token = tokens.token(provider, Grant.REFRESH_TOKEN, USER, Protocol.SMTP, Optional.empty())
                .get(10, TimeUnit.SECONDS);
        assertThat(idp.isValid(token.value(), USER)).isTrue();
    }

    @Test
    void deviceCodeLoginPollsUntilApprovedAndStoresTheRefreshToken() throws Exception {
        DeviceCodeLogin login = tokens.startDeviceCodeLogin(provider, USER).get(10, TimeUnit.SECONDS);
        assertThat(login.userCode()).isEqualTo(idp.lastUserCode().orElseThrow()).hasSize(9);
        assertThat(login.verificationUri()).isEqualTo(URI.create("https://microsoft.com/devicelogin"));
        assertThat(login.message()).hasValueSatisfying(m -> assertThat(m).contains(login.userCode()));
        assertThat(login.expiresAt()).isEqualTo(clock.instant().plusSeconds(900));
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(5));

        scheduler.advance(Duration.ofSeconds(5)); // authorization_pending
        scheduler.advance(Duration.ofSeconds(5)); // authorization_pending
        assertThat(login.polls()).isEqualTo(2);
        assertThat(login.result()).isNotDone();
        assertThat(tokens.hasRefreshToken("contoso", USER)).isFalse();

        idp.approveDeviceCode(login.userCode(), USER);
        scheduler.advance(Duration.ofSeconds(5));
        LoginResult result = login.result().get(10, TimeUnit.SECONDS);
        assertThat(result.principal()).isEqualTo(USER);
        assertThat(result.secretName()).isEqualTo("oauth2-refresh:contoso:it-admin@contoso.com");
        assertThat(result.scope()).contains(Fixtures.IMAP).contains(Fixtures.POP).contains(Fixtures.SMTP);
        assertThat(tokens.hasRefreshToken("contoso", USER)).isTrue();
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_DEVICE_CODE)).isEqualTo(3);
        assertRefreshTokenWorks();
    }

    /**
     * Whoever signs in at the verification page, the refresh token would be stored under the configured principal;
     * the ID token says who it really was (openid profile are asked for), and a mismatch stores nothing.
     */
    @Test
    void deviceCodeLoginByAnotherUserIsRefusedAndStoresNothing() throws Exception {
        DeviceCodeLogin login = tokens.startDeviceCodeLogin(provider, USER).get(10, TimeUnit.SECONDS);
        idp.approveDeviceCode(login.userCode(), "dana@contoso.com");
        scheduler.advance(Duration.ofSeconds(5));
        TokenException e = failure(login.result());
        assertThat(e.reason()).isEqualTo(TokenException.Reason.LOGIN_FAILED);
        assertThat(e.getMessage()).isEqualTo("signed in as dana@contoso.com, but this account's refresh token must be"
                + " it-admin@contoso.com's (the account's principal, or its mailbox); nothing was stored. Run the login again and sign"
                + " in as it-admin@contoso.com: use a private browser window, or sign out of dana@contoso.com first"
                + " (with the device code, pick it-admin@contoso.com at \"Pick an account\")");
        assertThat(tokens.hasRefreshToken("contoso", USER)).isFalse();
        assertThat(tokens.hasRefreshToken("contoso", "dana@contoso.com")).isFalse();
    }

    @Test
    void loginsAskForAnIdTokenAndAcceptTheRightUserInAnyCase() throws Exception {
        DeviceCodeLogin login = tokens.startDeviceCodeLogin(provider, USER).get(10, TimeUnit.SECONDS);
        idp.approveDeviceCode(login.userCode(), "IT-Admin@Contoso.com");
        scheduler.advance(Duration.ofSeconds(5));
        assertThat(login.result().get(10, TimeUnit.SECONDS).principal()).isEqualTo(USER);
        assertThat(tokens.hasRefreshToken("contoso", USER)).isTrue();
        assertThat(idp.tokenRequests()).last().satisfies(r -> assertThat(r.form().get("grant_type"))
                .isEqualTo(FakeIdentityPlatform.GRANT_DEVICE_CODE));
    }

    @Test
    void authorizationCodeLoginByAnotherUserIsRefused() throws Exception {
        AuthorizationCodeLogin login = tokens.startAuthorizationCodeLogin(provider, USER, false);
        assertThat(login.authorizationUri().getRawQuery()).contains("openid").contains("profile");
        idp.signIn("dana@contoso.com");
        TokenException e = failure(login.complete(redirectLocation(login.authorizationUri())));
        assertThat(e.reason()).isEqualTo(TokenException.Reason.LOGIN_FAILED);
        assertThat(e.getMessage()).startsWith("signed in as dana@contoso.com, but this account's refresh token must be"
                + " it-admin@contoso.com's");
        assertThat(tokens.hasRefreshToken("contoso", USER)).isFalse();
    }

    @Test
    void slowDownWidensTheInterval() throws Exception {
        DeviceCodeLogin login = tokens.startDeviceCodeLogin(provider, USER).get(10, TimeUnit.SECONDS);
        scheduler.advance(Duration.ofSeconds(5)); // pending
        scheduler.runAllNow(); // polled again at the same instant: slow_down
        assertThat(login.interval()).isEqualTo(Duration.ofSeconds(10));
        assertThat(scheduler.pending()).containsExactly(Duration.ofSeconds(10));
        idp.approveDeviceCode(login.userCode(), USER);
        scheduler.advance(Duration.ofSeconds(10));
        assertThat(login.result().get(10, TimeUnit.SECONDS).principal()).isEqualTo(USER);
    }

    @Test
    void expiredDeviceCodeFailsTheLogin() throws Exception {
        idp.deviceCodeTiming(5, 12);
        DeviceCodeLogin login = tokens.startDeviceCodeLogin(provider, USER).get(10, TimeUnit.SECONDS);
        scheduler.advance(Duration.ofSeconds(5));
        scheduler.advance(Duration.ofSeconds(5));
        scheduler.advance(Duration.ofSeconds(5));
        TokenException e = failure(login.result());
        assertThat(e.reason()).isEqualTo(TokenException.Reason.LOGIN_FAILED);
        assertThat(e.getMessage()).contains("device code expired").contains("run the login again");
        assertThat(scheduler.pending()).isEmpty();
    }

    @Test
    void declinedDeviceCodeFailsWithMicrosoftsText() throws Exception {
        DeviceCodeLogin login = tokens.startDeviceCodeLogin(provider, USER).get(10, TimeUnit.SECONDS);
        idp.declineDeviceCode(login.userCode());
        scheduler.advance(Duration.ofSeconds(5));
        TokenException e = failure(login.result());
        assertThat(e.error()).contains("authorization_declined");
        assertThat(tokens.hasRefreshToken("contoso", USER)).isFalse();
    }

    @Test
    void authorizationCodeWithPkceThroughTheLoopbackListener() throws Exception {
        try (AuthorizationCodeLogin login = tokens.startAuthorizationCodeLogin(provider, USER, true)) {
            URI authorize = login.authorizationUri();
            assertThat(authorize.toString()).startsWith(idp.authorizeEndpoint(Fixtures.TENANT).toString())
                    .contains("code_challenge_method=S256").contains("code_challenge=").contains("state=")
                    .contains("login_hint=it-admin%40contoso.com");
            assertThat(login.redirectUri().getHost()).isEqualTo("localhost");
            assertThat(login.redirectUri().getPort()).isPositive();
            idp.signIn(USER);
            // the "browser": follows the redirect to the listener
            HttpClient browser = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.ALWAYS).build();
            HttpResponse<String> page = browser.send(HttpRequest.newBuilder(authorize).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(page.body()).contains("sign-in complete");
            assertThat(login.result().get(10, TimeUnit.SECONDS).principal()).isEqualTo(USER);
        }
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_AUTHORIZATION_CODE)).isEqualTo(1);
        assertRefreshTokenWorks();
    }

    @Test
    void aForgedRequestToTheListenerIsTurnedAwayAndTheLoginKeepsWaiting() throws Exception {
        try (AuthorizationCodeLogin login = tokens.startAuthorizationCodeLogin(provider, USER, true)) {
            HttpClient browser = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.ALWAYS).build();
            HttpResponse<String> forged = browser.send(HttpRequest.newBuilder(
                    login.redirectUri().resolve("/?code=attacker&state=forged")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(forged.statusCode()).isEqualTo(400);
            assertThat(login.result()).isNotDone();
            idp.signIn(USER);
            HttpResponse<String> page = browser.send(HttpRequest.newBuilder(login.authorizationUri()).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(page.body()).contains("sign-in complete");
            assertThat(login.result().get(10, TimeUnit.SECONDS).principal()).isEqualTo(USER);
        }
    }

    private static String redirectLocation(URI authorize) throws Exception {
        HttpClient browser = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
        HttpResponse<String> r = browser.send(HttpRequest.newBuilder(authorize).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(302);
        return r.headers().firstValue("Location").orElseThrow();
    }

    @Test
    void authorizationCodeWithAPastedRedirectUrl() throws Exception {
        AuthorizationCodeLogin login = tokens.startAuthorizationCodeLogin(provider, USER, false);
        idp.signIn(USER);
        String pasted = redirectLocation(login.authorizationUri());
        assertThat(pasted).startsWith("http://localhost/?code=");
        LoginResult result = login.complete("  " + pasted + "\n").get(10, TimeUnit.SECONDS);
        assertThat(result.secretName()).isEqualTo(TokenService.refreshTokenName("contoso", USER));
        assertRefreshTokenWorks();
    }

    @Test
    void aRedirectWithAnotherStateIsRefused() throws Exception {
        AuthorizationCodeLogin login = tokens.startAuthorizationCodeLogin(provider, USER, false);
        idp.signIn(USER);
        String pasted = redirectLocation(login.authorizationUri()).replaceAll("state=[^&]+", "state=forged");
        TokenException e = failure(login.complete(pasted));
        assertThat(e.reason()).isEqualTo(TokenException.Reason.LOGIN_FAILED);
        assertThat(e.getMessage()).contains("state does not match");
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_AUTHORIZATION_CODE)).isZero();
    }

    @Test
    void theCodeIsUselessWithoutThisLoginsVerifier() throws Exception {
        AuthorizationCodeLogin mine = tokens.startAuthorizationCodeLogin(provider, USER, false);
        AuthorizationCodeLogin other = tokens.startAuthorizationCodeLogin(provider, USER, false);
        idp.signIn(USER);
        // a code issued for "other"'s challenge, replayed with "mine"'s state: the PKCE check refuses it
        String stolen = redirectLocation(other.authorizationUri());
        String mineState = mine.authorizationUri().getRawQuery().replaceAll(".*[?&]?\\bstate=([^&]+).*", "$1");
        TokenException e = failure(mine.complete(stolen.replaceAll("([?&])state=[^&]+", "$1state=" + mineState)));
        assertThat(e.errorCodes()).containsExactly(501481L);
        assertThat(e.getMessage()).contains("AADSTS501481: The Code_Verifier does not match the code_challenge");
    }

    @Test
    void anErrorRedirectIsReported() throws Exception {
        AuthorizationCodeLogin login = tokens.startAuthorizationCodeLogin(provider, USER, false);
        String state = login.authorizationUri().getQuery().replaceAll(".*state=([^&]+).*", "$1");
        TokenException e = failure(login.complete("http://localhost/?error=access_denied&error_description="
                + "AADSTS65004%3A+User+declined+to+consent+to+access+the+app.%0D%0ATrace+ID%3A+x&state=" + state));
        assertThat(e.getMessage()).isEqualTo("sign-in failed: access_denied: AADSTS65004: User declined to consent"
                + " to access the app.");
    }
}
