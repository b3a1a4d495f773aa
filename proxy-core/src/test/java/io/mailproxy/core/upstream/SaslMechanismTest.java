package io.mailproxy.core.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.credentials.AccessToken;
import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SaslMechanismTest {

    private static String decode(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }

    private static String encode(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void xoauth2InitialResponseIsTheExactWireFormat() {
        SaslMechanism m = new XOAuth2Mechanism("shared@contoso.com", "tok");
        assertThat(m.name()).isEqualTo("XOAUTH2");
        assertThat(decode(m.initialResponse().orElseThrow()))
                .isEqualTo("user=shared@contoso.com\u0001auth=Bearer tok\u0001\u0001");
        assertThat(m.toString()).doesNotContain("tok");
    }

    @Test
    void xoauth2AnswersTheErrorChallengeWithAnEmptyResponseAndKeepsIt() {
        SaslMechanism m = new XOAuth2Mechanism("u", "tok");
        String first = m.respond(""); // no SASL-IR: the initial response goes after the first "+"
        assertThat(decode(first)).startsWith("user=u\u0001");
        String json = "{\"status\":\"401\",\"schemes\":\"bearer\"}";
        assertThat(m.respond(encode(json))).isEmpty();
        assertThat(m.serverError()).contains(json);
    }

    @Test
    void plainAndLogin() {
        SaslMechanism plain = new PlainMechanism("u", "p w");
        assertThat(decode(plain.initialResponse().orElseThrow())).isEqualTo("\0u\0p w");
        assertThat(plain.respond("")).isEqualTo("*");
        SaslMechanism login = new LoginMechanism("u", "p w");
        assertThat(login.initialResponse()).isEmpty();
        assertThat(decode(login.respond(encode("Username:")))).isEqualTo("u");
        assertThat(decode(login.respond(encode("Password:")))).isEqualTo("p w");
        assertThat(login.respond("")).isEqualTo("*");
        assertThat(plain.toString() + login).doesNotContain("p w");
    }

    @Test
    void choosesXoauth2ForTokensAndPlainBeforeLoginForPasswords() {
        Login bearer = new Login.Bearer("u", new AccessToken("t", Instant.EPOCH));
        Login password = new Login.Password("u", "p");
        assertThat(SaslMechanism.choose(bearer, Set.of()).orElseThrow().name()).isEqualTo("XOAUTH2");
        assertThat(SaslMechanism.choose(password, Set.of("LOGIN", "PLAIN", "XOAUTH2")).orElseThrow().name()).isEqualTo("PLAIN");
        assertThat(SaslMechanism.choose(password, Set.of("LOGIN", "XOAUTH2")).orElseThrow().name()).isEqualTo("LOGIN");
        assertThat(SaslMechanism.choose(password, Set.of("XOAUTH2"))).isEmpty();
    }
}
