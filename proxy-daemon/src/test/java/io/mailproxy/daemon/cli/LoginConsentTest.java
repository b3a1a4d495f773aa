package io.mailproxy.daemon.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.credentials.LoginConsent;
import org.junit.jupiter.api.Test;

/** What {@code ./mailproxy login ACCOUNT} asks consent for, from the account's clients and upstream (issue 16). */
class LoginConsentTest {
    private static final String HASH =
            "$argon2id$v=19$m=19456,t=2,p=1$6TsaO6x0d/1VHi+RMFHh3g$UzixO+oXxpcFtCrdeC54+jfzIIxoxVzWNORFsE8jKNI";
    private static final String IMAP = "https://outlook.office.com/IMAP.AccessAsUser.All";
    private static final String SEND = "https://graph.microsoft.com/Mail.Send";
    private static final String SEND_SHARED = "https://graph.microsoft.com/Mail.Send.Shared";

    private static LoginConsent consent(String upstream, String auth, String client) {
        MailproxyConfig cfg = ConfigLoader.parse("mailproxy {\n"
                + "  upstreams.up { " + upstream + " }\n"
                + "  oauth2.contoso { tenant = \"contoso.onmicrosoft.com\", client-id = \"id\" }\n"
                + "  accounts.\"shared@contoso.com\" { upstream = up, auth { provider = contoso" + auth + " } }\n"
                + "  clients.app { password = \"" + HASH + "\", account = \"shared@contoso.com\", " + client + " }\n"
                + "}\n", "test.conf");
        AccountConfig account = cfg.account("shared@contoso.com").orElseThrow();
        return LoginCommand.consent(cfg, account, (AuthConfig.OAuth2) account.auth(),
                cfg.oauth2().get("contoso"));
    }

    @Test
    void anAccountWithoutGraphAsksForTheMailProtocolsOnly() {
        LoginConsent c = consent("preset = office365", "", "protocols = [imap, smtp]");
        assertThat(c.redeem()).contains(IMAP);
        assertThat(c.consentOnly()).isEmpty();
    }

    @Test
    void smtpThroughGraphAddsGraphForConsent() {
        LoginConsent c = consent("preset = office365, send-with = graph", "", "protocols = [imap, smtp]");
        assertThat(c.redeem()).contains(IMAP).doesNotContain(SEND);
        assertThat(c.consentOnly()).contains(SEND, "https://graph.microsoft.com/Mail.ReadWrite", "offline_access");
    }

    @Test
    void aDelegateIsAskedForTheSharedPermissions() {
        LoginConsent c = consent("preset = office365", ", principal = \"dana@contoso.com\"",
                "protocols = [pop3], pop3 { source = graph }");
        assertThat(c.consentOnly()).contains(SEND_SHARED).doesNotContain(SEND);
    }

    @Test
    void aGraphOnlyUpstreamSignsInForGraph() {
        LoginConsent c = consent("preset = office365-graph", "", "protocols = [smtp]");
        assertThat(c.redeem()).contains(SEND).doesNotContain(IMAP);
        assertThat(c.consentOnly()).isEmpty();
    }
}
