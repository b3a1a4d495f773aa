package io.mailproxy.core.credentials;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import org.junit.jupiter.api.Test;

class SecureEndpointTest {

    @Test
    void plainHttpOnlyToALoopbackAddress() {
        for (String ok : new String[] {"https://login.microsoftonline.com/t/oauth2/v2.0/token",
                "http://127.0.0.1:8080/token", "http://127.1.2.3/token", "http://[::1]:9/token",
                "http://localhost:1/token"}) {
            assertThatCode(() -> TokenEndpointClient.requireSecureEndpoint(URI.create(ok))).as(ok)
                    .doesNotThrowAnyException();
        }
        for (String bad : new String[] {"http://127.evil.example/token", "http://127.0.0.1.evil.example/token",
                "http://login.example/token", "ftp://127.0.0.1/token"}) {
            assertThatThrownBy(() -> TokenEndpointClient.requireSecureEndpoint(URI.create(bad))).as(bad)
                    .isInstanceOf(TokenException.class).hasMessageContaining("not https://");
        }
    }
}
