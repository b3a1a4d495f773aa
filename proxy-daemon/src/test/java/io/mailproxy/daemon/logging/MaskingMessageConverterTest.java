package io.mailproxy.daemon.logging;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

class MaskingMessageConverterTest {

    @Test
    void masksXoauth2InitialResponses() {
        String b64 = Base64.getEncoder().encodeToString(
                "user=a@b.c\u0001auth=Bearer EwBoA8l6BAAU\u0001\u0001".getBytes(StandardCharsets.US_ASCII));
        assertThat(MaskingMessageConverter.mask("C: a1 AUTHENTICATE XOAUTH2 " + b64))
                .isEqualTo("C: a1 AUTHENTICATE XOAUTH2 ****");
    }

    @Test
    void masksBearerTokensFormFieldsAndHashes() {
        assertThat(MaskingMessageConverter.mask("auth=Bearer abc.def-ghi")).isEqualTo("auth=Bearer ****");
        assertThat(MaskingMessageConverter.mask("Authorization: Bearer xyz")).isEqualTo("Authorization: Bearer ****");
        assertThat(MaskingMessageConverter.mask("grant_type=refresh_token&refresh_token=0.AAA-xyz&client_id=1"))
                .isEqualTo("grant_type=refresh_token&refresh_token=****&client_id=1");
        assertThat(MaskingMessageConverter.mask("{\"access_token\":\"eyJ0eXAi\",\"expires_in\":3599}"))
                .doesNotContain("eyJ0eXAi").contains("expires_in");
        assertThat(MaskingMessageConverter.mask("password = \"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA\""))
                .doesNotContain("aGFzaA");
    }

    @Test
    void leavesOrdinaryTextAlone() {
        String line = "session end: protocol=imap client=scanner account=reports@contoso.com in=12 out=3400";
        assertThat(MaskingMessageConverter.mask(line)).isEqualTo(line);
    }
}
