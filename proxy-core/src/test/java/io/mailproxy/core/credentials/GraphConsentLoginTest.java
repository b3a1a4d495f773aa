package io.mailproxy.core.credentials;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AuthConfig.Grant;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code ./mailproxy login} for an account that uses Microsoft Graph (issue 16): one sign-in consents to the mail
 * protocols' and Graph's scopes, the tokens of the sign-in are for one resource, and the stored refresh token
 * redeems for Graph afterwards.
 */
class GraphConsentLoginTest extends LoginFixture {
    private static final String SEND = "https://graph.microsoft.com/Mail.Send";
    private static final String READ_WRITE = "https://graph.microsoft.com/Mail.ReadWrite";
    private static final List<String> GRAPH = List.of(SEND, READ_WRITE, "offline_access");

    GraphConsentLoginTest() {
        super(Instant.parse("2026-12-07T20:00:00Z"));
    }

    private LoginResult deviceCodeLogin(LoginConsent consent) throws Exception {
        DeviceCodeLogin login = tokens.startDeviceCodeLogin(provider, USER, consent).get(10, TimeUnit.SECONDS);
        idp.approveDeviceCode(login.userCode(), USER);
        scheduler.advance(Duration.ofSeconds(5));
        return login.result().get(10, TimeUnit.SECONDS);
    }

    /** A refresh grant for {@code scope} with the stored refresh token, as the Graph token request makes it. */
    private HttpResponse<String> refreshFor(List<String> scope) throws Exception {
        String rt = store.get(TokenService.refreshTokenName("contoso", USER)).orElseThrow();
        String form = "client_id=public&grant_type=refresh_token&refresh_token=" + enc(rt) + "&scope="
                + enc(String.join(" ", scope));
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(provider.tokenEndpoint())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    @Test
    void deviceCodeLoginConsentsToGraphAndTheRefreshTokenRedeemsForIt() throws Exception {
        LoginResult result = deviceCodeLogin(LoginConsent.of(provider, true, GRAPH));
        assertThat(idp.consentedScopes("public", USER)).contains(SEND, READ_WRITE, Fixtures.IMAP, Fixtures.SMTP);
        assertThat(result.scope()).contains(Fixtures.IMAP).doesNotContain(SEND); // the sign-in's token: one resource

        AccessToken smtp = tokens.token(provider, Grant.REFRESH_TOKEN, USER, Protocol.SMTP, Optional.empty())
                .get(10, TimeUnit.SECONDS);
        assertThat(idp.isValid(smtp.value(), USER)).isTrue();
        HttpResponse<String> graph = refreshFor(GRAPH); // the refresh token as the token service rotated it
        assertThat(graph.statusCode()).as(graph.body()).isEqualTo(200);
        assertThat(graph.body()).contains("Mail.Send");
    }

    @Test
    void aLoginWithoutGraphLeavesGraphUnconsented() throws Exception {
        deviceCodeLogin(LoginConsent.mailProtocols(provider));
        HttpResponse<String> graph = refreshFor(GRAPH);
        assertThat(graph.statusCode()).isEqualTo(400);
        assertThat(graph.body()).contains("invalid_grant").contains("AADSTS65001");
    }

    @Test
    void authorizationCodeLoginAsksConsentForBothAndRedeemsTheCodeForOneResource() throws Exception {
        AuthorizationCodeLogin login = tokens.startAuthorizationCodeLogin(provider, USER, false,
                LoginConsent.of(provider, true, GRAPH));
        String query = URLDecoder.decode(login.authorizationUri().getRawQuery(), StandardCharsets.UTF_8);
        assertThat(query).contains(SEND).contains(READ_WRITE).contains(Fixtures.IMAP).contains("openid");
        idp.signIn(USER);
        LoginResult result = login.complete(redirectLocation(login.authorizationUri())).get(10, TimeUnit.SECONDS);
        assertThat(result.principal()).isEqualTo(USER);
        assertThat(idp.tokenRequests()).last().satisfies(r -> assertThat(r.form().get("scope"))
                .contains(Fixtures.IMAP).doesNotContain(SEND));
        assertThat(refreshFor(GRAPH).statusCode()).isEqualTo(200);
    }

    @Test
    void anAccountWithOnlyGraphRedeemsTheSignInForGraph() throws Exception {
        LoginResult result = deviceCodeLogin(LoginConsent.of(provider, false, GRAPH));
        assertThat(result.scope()).contains(SEND).doesNotContain(Fixtures.IMAP);
        assertThat(idp.consentedScopes("public", USER)).doesNotContain(Fixtures.IMAP);
    }

    private static String redirectLocation(URI authorize) throws Exception {
        HttpClient browser = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build();
        HttpResponse<String> r = browser.send(HttpRequest.newBuilder(authorize).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(302);
        return r.headers().firstValue("Location").orElseThrow();
    }
}
