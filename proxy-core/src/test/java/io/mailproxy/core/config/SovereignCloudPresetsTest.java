package io.mailproxy.core.config;

import static io.mailproxy.core.config.ConfigValidationTest.CLIENT;
import static io.mailproxy.core.config.ConfigValidationTest.LISTENER;
import static io.mailproxy.core.config.ConfigValidationTest.valid;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.Protocol;
import java.net.URI;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The presets of Microsoft's national clouds give the endpoints, authority and scopes docs/OFFICE365.md lists. */
class SovereignCloudPresetsTest {

    private static MailproxyConfig withPreset(String preset) {
        return ConfigLoader.parse(valid(LISTENER, "preset = " + preset,
                "preset = " + preset + ", tenant = \"contoso.onmicrosoft.us\", client-id = x",
                "upstream = o365, auth { provider = contoso, grant = refresh-token }", CLIENT), "t", Map.of());
    }

    private static String url(MailproxyConfig c, Protocol p) {
        return c.upstreams().get("o365").endpoint(p).orElseThrow().toUrl();
    }

    @Test
    void gccHigh() {
        MailproxyConfig c = withPreset("office365-gcc-high");
        assertThat(url(c, Protocol.IMAP)).isEqualTo("imaps://outlook.office365.us:993");
        assertThat(url(c, Protocol.POP3)).isEqualTo("pop3s://outlook.office365.us:995");
        assertThat(url(c, Protocol.SMTP)).isEqualTo("smtp+starttls://smtp.office365.us:587");
        OAuth2ProviderConfig p = c.oauth2().get("contoso");
        assertThat(p.tokenEndpoint()).isEqualTo(
                URI.create("https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token"));
        assertThat(p.deviceAuthorizationEndpoint()).isEqualTo(
                URI.create("https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/devicecode"));
        assertThat(p.delegatedScopesImap()).containsExactly("https://outlook.office365.us/IMAP.AccessAsUser.All",
                "offline_access");
        assertThat(p.delegatedScopesPop3()).containsExactly("https://outlook.office365.us/POP.AccessAsUser.All",
                "offline_access");
        assertThat(p.delegatedScopesSmtp()).containsExactly("https://outlook.office365.us/SMTP.Send", "offline_access");
        assertThat(p.appScopes()).containsExactly("https://outlook.office365.us/.default");
        assertThat(p.resource()).isEmpty();
    }

    @Test
    void dod() {
        MailproxyConfig c = withPreset("office365-dod");
        assertThat(url(c, Protocol.IMAP)).isEqualTo("imaps://outlook-dod.office365.us:993");
        assertThat(url(c, Protocol.POP3)).isEqualTo("pop3s://outlook-dod.office365.us:995");
        assertThat(url(c, Protocol.SMTP)).isEqualTo("smtp+starttls://outlook-dod.office365.us:587");
        OAuth2ProviderConfig p = c.oauth2().get("contoso");
        assertThat(p.tokenEndpoint().getHost()).isEqualTo("login.microsoftonline.us");
        assertThat(p.delegatedScopesSmtp()).containsExactly("https://outlook.office365.us/SMTP.Send", "offline_access");
        assertThat(p.appScopes()).containsExactly("https://outlook.office365.us/.default");
    }

    @Test
    void operatedBy21Vianet() {
        MailproxyConfig c = withPreset("office365-21vianet");
        assertThat(url(c, Protocol.IMAP)).isEqualTo("imaps://partner.outlook.cn:993");
        assertThat(url(c, Protocol.POP3)).isEqualTo("pop3s://partner.outlook.cn:995");
        assertThat(url(c, Protocol.SMTP)).isEqualTo("smtp+starttls://partner.outlook.cn:587");
        OAuth2ProviderConfig p = c.oauth2().get("contoso");
        assertThat(p.tokenEndpoint()).isEqualTo(
                URI.create("https://login.partner.microsoftonline.cn/contoso.onmicrosoft.us/oauth2/v2.0/token"));
        assertThat(p.delegatedScopesImap()).containsExactly("https://partner.outlook.cn/IMAP.AccessAsUser.All",
                "offline_access");
        assertThat(p.appScopes()).containsExactly("https://partner.outlook.cn/.default");
        assertThat(p.resource()).contains("https://partner.outlook.cn");
    }

    @Test
    void commercialAndGccShareTheOffice365PresetWithoutResource() {
        MailproxyConfig c = withPreset("office365");
        assertThat(url(c, Protocol.SMTP)).isEqualTo("smtp+starttls://smtp.office365.com:587");
        assertThat(c.oauth2().get("contoso").resource()).isEmpty();
    }

    @Test
    void eachPresetNamesTheGraphHostOfItsCloud() {
        com.typesafe.config.Config presets = ConfigFactory.defaultReference().getConfig("mailproxy.presets");
        assertThat(presets.getString("office365.graph")).isEqualTo("https://graph.microsoft.com");
        assertThat(presets.getString("outlook.graph")).isEqualTo("https://graph.microsoft.com");
        assertThat(presets.getString("office365-gcc-high.graph")).isEqualTo("https://graph.microsoft.us");
        assertThat(presets.getString("office365-dod.graph")).isEqualTo("https://dod-graph.microsoft.us");
        assertThat(presets.getString("office365-21vianet.graph")).isEqualTo("https://microsoftgraph.chinacloudapi.cn");
    }

    @Test
    void aPresetsGraphMustBeAnHttpsUrl() {
        String hocon = valid(LISTENER, "preset = mine", "preset = mine, tenant = t, client-id = x",
                "upstream = o365, auth { provider = contoso, grant = refresh-token }", CLIENT)
                .replaceFirst("\\}\\s*$", "  presets.mine { imap = \"imaps://imap.example:993\", authority ="
                        + " \"https://login.example\", graph = \"http://graph.example\" }\n}\n");
        ConfigException e = catchThrowableOfType(() -> ConfigLoader.parse(hocon, "t", Map.of()), ConfigException.class);
        assertThat(e).isNotNull();
        assertThat(java.util.stream.Stream.concat(java.util.stream.Stream.of(e),
                java.util.Arrays.stream(e.getSuppressed())).map(Throwable::getMessage))
                .anySatisfy(m -> assertThat(m).contains("mailproxy.presets.mine.graph").contains("https://"));
    }
}
