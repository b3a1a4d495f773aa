package io.mailproxy.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.stream.Collectors;
import net.minidev.json.JSONArray;
import net.minidev.json.JSONObject;
import net.minidev.json.parser.JSONParser;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The fake answers as Entra ID's v2.0 endpoints do, byte for byte where it matters. */
class FakeIdentityPlatformTest {
    private static final String TENANT = "contoso.onmicrosoft.com";
    private final HttpClient http = HttpClient.newHttpClient();
    private Instant now = Instant.parse("2026-11-25T20:00:00Z");
    private FakeIdentityPlatform idp;

    @BeforeEach
    void setUp() {
        idp = FakeIdentityPlatform.start().clock(new Clock() {
            @Override
            public ZoneOffset getZone() {
                return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(java.time.ZoneId zone) {
                return this;
            }

            @Override
            public Instant instant() {
                return now;
            }
        });
        idp.registerClient("app", "secret").registerPublicClient("public").addUser("u@contoso.com", "pw");
    }

    @AfterEach
    void tearDown() {
        idp.close();
    }

    private HttpResponse<String> post(Map<String, String> form) throws Exception {
        String body = form.entrySet().stream().map(e -> e.getKey() + "="
                + java.net.URLEncoder.encode(e.getValue(), java.nio.charset.StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        return http.send(HttpRequest.newBuilder(idp.tokenEndpoint(TENANT))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JSONObject json(HttpResponse<String> r) throws Exception {
        return (JSONObject) new JSONParser(JSONParser.MODE_STRICTEST).parse(r.body());
    }

    @Test
    void clientCredentialsTokenHasMicrosoftsFields() throws Exception {
        HttpResponse<String> r = post(Map.of("grant_type", "client_credentials", "client_id", "app",
                "client_secret", "secret", "scope", "https://outlook.office365.com/.default"));
        assertThat(r.statusCode()).isEqualTo(200);
        JSONObject body = json(r);
        assertThat(body.keySet()).containsExactlyInAnyOrder("token_type", "scope", "expires_in", "ext_expires_in", "access_token");
        assertThat(body.get("token_type")).isEqualTo("Bearer");
        assertThat(((Number) body.get("expires_in")).intValue()).isEqualTo(3599);
        String token = (String) body.get("access_token");
        assertThat(idp.isValid(token, "anyone@contoso.com")).isTrue();
        now = now.plusSeconds(3599);
        assertThat(idp.isValid(token, "anyone@contoso.com")).isFalse();
        assertThat(idp.requests(FakeIdentityPlatform.GRANT_CLIENT_CREDENTIALS)).isEqualTo(1);
    }

    @Test
    void errorBodyIsMicrosoftsFormat() throws Exception {
        HttpResponse<String> r = post(Map.of("grant_type", "client_credentials", "client_id", "app",
                "client_secret", "wrong", "scope", "https://outlook.office365.com/.default"));
        assertThat(r.statusCode()).isEqualTo(401);
        JSONObject body = json(r);
        assertThat(body.get("error")).isEqualTo("invalid_client");
        assertThat((String) body.get("error_description"))
                .startsWith("AADSTS7000215: Invalid client secret provided.")
                .containsPattern("\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: 2026-11-25 20:00:00Z$");
        assertThat(((JSONArray) body.get("error_codes"))).containsExactly(7000215);
        assertThat(body.keySet()).contains("timestamp", "trace_id", "correlation_id", "error_uri");
    }

    @Test
    void refreshTokenRotatesAndTheOldOneStopsWorking() throws Exception {
        String rt = idp.issueRefreshToken("public", "u@contoso.com", "https://outlook.office.com/IMAP.AccessAsUser.All");
        JSONObject first = json(post(Map.of("grant_type", "refresh_token", "client_id", "public", "refresh_token", rt)));
        String rotated = (String) first.get("refresh_token");
        assertThat(rotated).isNotEqualTo(rt);
        assertThat(idp.refreshTokenValid(rt)).isFalse();
        HttpResponse<String> reuse = post(Map.of("grant_type", "refresh_token", "client_id", "public", "refresh_token", rt));
        assertThat(reuse.statusCode()).isEqualTo(400);
        assertThat(json(reuse).get("error")).isEqualTo("invalid_grant");

        idp.rotation(true, false);
        JSONObject second = json(post(Map.of("grant_type", "refresh_token", "client_id", "public", "refresh_token", rotated)));
        assertThat(second.get("refresh_token")).isNotEqualTo(rotated);
        assertThat(idp.refreshTokenValid(rotated)).isTrue();
        idp.revokeRefreshTokens("u@contoso.com");
        assertThat(json(post(Map.of("grant_type", "refresh_token", "client_id", "public", "refresh_token", rotated)))
                .get("error_codes").toString()).isEqualTo("[50173]");
    }

    @Test
    void ropcChecksThePasswordAndScopesTheTokenToTheUser() throws Exception {
        HttpResponse<String> bad = post(Map.of("grant_type", "password", "client_id", "public", "username",
                "u@contoso.com", "password", "nope", "scope", "https://outlook.office.com/SMTP.Send"));
        assertThat(json(bad).get("error_codes").toString()).isEqualTo("[50126]");
        JSONObject ok = json(post(Map.of("grant_type", "password", "client_id", "public", "username", "u@contoso.com",
                "password", "pw", "scope", "https://outlook.office.com/SMTP.Send offline_access")));
        assertThat(ok.get("scope")).isEqualTo("https://outlook.office.com/SMTP.Send");
        assertThat(ok.get("refresh_token")).isNotNull();
        assertThat(idp.isValid((String) ok.get("access_token"), "U@contoso.com")).isTrue();
        assertThat(idp.isValid((String) ok.get("access_token"), "other@contoso.com")).isFalse();
    }

    @Test
    void failureSwitchAnswersEveryRequest() throws Exception {
        idp.failWith(503);
        assertThat(post(Map.of("grant_type", "client_credentials")).statusCode()).isEqualTo(503);
        idp.failWith(0);
        assertThat(post(Map.of("grant_type", "client_credentials", "client_id", "app", "client_secret", "secret",
                "scope", "https://outlook.office365.com/.default")).statusCode()).isEqualTo(200);
    }

    @Test
    void deviceCodeIsPendingThenSlowDownThenIssued() throws Exception {
        HttpResponse<String> start = http.send(HttpRequest.newBuilder(idp.deviceCodeEndpoint(TENANT))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("client_id=public&scope=offline_access")).build(),
                HttpResponse.BodyHandlers.ofString());
        JSONObject d = json(start);
        assertThat(d.get("verification_uri")).isEqualTo("https://microsoft.com/devicelogin");
        String deviceCode = (String) d.get("device_code");
        Map<String, String> poll = Map.of("grant_type", FakeIdentityPlatform.GRANT_DEVICE_CODE, "client_id", "public",
                "device_code", deviceCode);
        assertThat(json(post(poll)).get("error")).isEqualTo("authorization_pending");
        assertThat(json(post(poll)).get("error")).isEqualTo("slow_down");
        now = now.plusSeconds(10);
        idp.approveDeviceCode((String) d.get("user_code"), "u@contoso.com");
        JSONObject ok = json(post(poll));
        assertThat(idp.isValid((String) ok.get("access_token"), "u@contoso.com")).isTrue();
        assertThat(ok.get("refresh_token")).isNotNull();
        now = now.plusSeconds(1000);
        assertThat(json(post(poll)).get("error")).isEqualTo("invalid_grant"); // a device code is used once
    }

    @Test
    void authorizeRedirectsWithCodeAndStateOnceSignedIn() throws Exception {
        URI authorize = URI.create(idp.authorizeEndpoint(TENANT) + "?client_id=public&response_type=code"
                + "&redirect_uri=http%3A%2F%2Flocalhost%3A1234%2Fcb&scope=offline_access&state=st4te"
                + "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256");
        HttpResponse<String> page = http.send(HttpRequest.newBuilder(authorize).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(page.statusCode()).isEqualTo(200);
        idp.signIn("u@contoso.com");
        HttpResponse<String> redirect = http.send(HttpRequest.newBuilder(authorize).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(redirect.statusCode()).isEqualTo(302);
        String location = redirect.headers().firstValue("Location").orElseThrow();
        assertThat(location).matches("http://localhost:1234/cb\\?code=[^&]+&state=st4te&session_state=[0-9a-f-]+");
        String code = location.replaceAll(".*code=([^&]+).*", "$1");
        // RFC 7636 appendix B's verifier for that challenge
        JSONObject ok = json(post(Map.of("grant_type", "authorization_code", "client_id", "public", "code", code,
                "redirect_uri", "http://localhost:1234/cb", "code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")));
        assertThat(idp.isValid((String) ok.get("access_token"), "u@contoso.com")).isTrue();
    }

    @Test
    void expiresInIsConfigurable() throws Exception {
        idp.expiresIn(Duration.ofSeconds(120));
        JSONObject body = json(post(Map.of("grant_type", "client_credentials", "client_id", "app",
                "client_secret", "secret", "scope", "https://outlook.office365.com/.default")));
        assertThat(((Number) body.get("expires_in")).intValue()).isEqualTo(120);
        assertThat(((Number) body.get("ext_expires_in")).intValue()).isEqualTo(120);
    }
}
