package io.mailproxy.core.config;

import static io.mailproxy.core.config.ConfigValidationTest.CLIENT;
import static io.mailproxy.core.config.ConfigValidationTest.LISTENER;
import static io.mailproxy.core.config.ConfigValidationTest.OAUTH2;
import static io.mailproxy.core.config.ConfigValidationTest.expectError;
import static io.mailproxy.core.config.ConfigValidationTest.parse;
import static io.mailproxy.core.config.ConfigValidationTest.valid;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The Microsoft Graph upstream's presets, scopes and the combinations the loader refuses (issue 16), in
 * {@link ConfigValidationTest}'s style: each refusal names file, line and key.
 */
class GraphConfigValidationTest {

    static final String GRAPH_ONLY = "preset = office365-graph";
    static final String APP_ONLY = "upstream = o365, auth { provider = contoso, grant = client-credentials }";
    static final String DELEGATED = "upstream = o365, auth { provider = contoso, grant = refresh-token }";

    @Test
    void office365GraphPresetHasGraphAndNoMailProtocols() {
        MailproxyConfig c = parse(valid(LISTENER, GRAPH_ONLY, OAUTH2, APP_ONLY,
                CLIENT + "\n protocols = [smtp, pop3]\n pop3 { source = graph }"));
        UpstreamConfig u = c.upstreams().get("o365");
        assertThat(u.endpoints()).isEmpty();
        assertThat(u.graph()).contains(URI.create("https://graph.microsoft.com/v1.0"));
        assertThat(u.sending()).isEqualTo(UpstreamConfig.Sending.GRAPH);
    }

    @Test
    void presetsCarryGraphScopesDelegatedSharedAndAppOnly() {
        OAuth2ProviderConfig p = parse(valid(LISTENER, "preset = office365", OAUTH2, APP_ONLY, CLIENT))
                .oauth2().get("contoso");
        assertThat(p.delegatedScopesGraph()).containsExactly("https://graph.microsoft.com/Mail.Send",
                "https://graph.microsoft.com/Mail.ReadWrite", "offline_access");
        assertThat(p.delegatedScopesGraphShared()).containsExactly("https://graph.microsoft.com/Mail.Send.Shared",
                "https://graph.microsoft.com/Mail.ReadWrite.Shared", "offline_access");
        assertThat(p.appScopesGraph()).containsExactly("https://graph.microsoft.com/.default");
        assertThat(p.graphScopes(AuthConfig.Grant.CLIENT_CREDENTIALS, false))
                .containsExactly("https://graph.microsoft.com/.default");
        assertThat(p.graphScopes(AuthConfig.Grant.REFRESH_TOKEN, true)).contains(
                "https://graph.microsoft.com/Mail.Send.Shared");
        assertThat(p.graphScopes(AuthConfig.Grant.REFRESH_TOKEN, false)).contains(
                "https://graph.microsoft.com/Mail.Send");
    }

    @Test
    void sovereignPresetsScopeGraphAtTheirOwnHost() {
        String hocon = valid(LISTENER, "preset = office365-gcc-high", "preset = office365-gcc-high, "
                + "tenant = \"contoso.onmicrosoft.us\", client-id = \"id\", client-secret = \"secret:app\"", APP_ONLY,
                CLIENT);
        OAuth2ProviderConfig p = parse(hocon).oauth2().get("contoso");
        assertThat(p.appScopesGraph()).containsExactly("https://graph.microsoft.us/.default");
        assertThat(p.delegatedScopesGraph()).contains("https://graph.microsoft.us/Mail.Send");
    }

    @Test
    void personalAccountsHaveDelegatedGraphOnly() {
        String hocon = valid(LISTENER, "preset = outlook", "preset = outlook, client-id = \"id\"", DELEGATED,
                CLIENT + "\n protocols = [smtp]");
        OAuth2ProviderConfig p = parse(hocon).oauth2().get("contoso");
        assertThat(p.delegatedScopesGraph()).containsExactly("https://graph.microsoft.com/Mail.Send",
                "https://graph.microsoft.com/Mail.ReadWrite", "offline_access");
        assertThat(p.appScopesGraph()).isEmpty();
    }

    @Test
    void pop3FromGraphNeedsAnUpstreamWithGraph() {
        expectError(valid(LISTENER, "imap = \"imaps://imap.example.com\", smtp = \"smtps://smtp.example.com\"", OAUTH2,
                        APP_ONLY, CLIENT + "\n protocols = [pop3]\n pop3 { source = graph }"),
                "source = graph", "mailproxy.clients.app.pop3.source", "has no Microsoft Graph",
                "graph = \"https://graph.microsoft.com/v1.0\"");
    }

    @Test
    void pop3FromImapNeedsAnUpstreamWithImap() {
        expectError(valid(LISTENER, GRAPH_ONLY, OAUTH2, APP_ONLY,
                        CLIENT + "\n protocols = [pop3]\n pop3 { source = imap }"),
                "protocols = [pop3]", "mailproxy.clients.app.protocols", "has no imap endpoint", "pop3.source = graph");
    }

    @Test
    void imapCannotGoThroughGraph() {
        expectError(valid(LISTENER, GRAPH_ONLY, OAUTH2, APP_ONLY, CLIENT + "\n protocols = [imap, smtp]"),
                "protocols = [imap, smtp]", "mailproxy.clients.app.protocols",
                "IMAP cannot go through Microsoft Graph;", "upstream o365", "imap removed from protocols");
    }

    @Test
    void smtpNeedsAnSmtpEndpointOrGraph() {
        expectError(valid(LISTENER, "imap = \"imaps://imap.example.com\"", OAUTH2, APP_ONLY,
                        CLIENT + "\n protocols = [smtp]"),
                "protocols = [smtp]", "mailproxy.clients.app.protocols", "neither an smtp endpoint nor Microsoft Graph");
    }

    @Test
    void smtpThroughGraphWithTheQueueIsFine() {
        MailproxyConfig c = parse(valid(LISTENER, "preset = office365, send-with = graph", OAUTH2, APP_ONLY,
                CLIENT + "\n protocols = [smtp]\n smtp { queue = true }"));
        assertThat(c.upstreams().get("o365").sending()).isEqualTo(UpstreamConfig.Sending.GRAPH);
        assertThat(c.clients().get("app").smtp().queue()).isTrue();
    }

    @Test
    void graphTakesOAuthOnly() {
        expectError(valid(LISTENER, GRAPH_ONLY, OAUTH2,
                        "upstream = o365, auth { type = password, password = \"secret:pw\" }",
                        CLIENT + "\n protocols = [smtp]"),
                "type = password", "mailproxy.accounts.\"a@contoso.com\".auth.type",
                "Microsoft Graph takes OAuth 2.0 only", "type = oauth2");
    }

    @Test
    void aDelegateNeedsSharedGraphScopes() {
        String oauth2 = OAUTH2 + ", scopes.graph-shared = []";
        expectError(valid(LISTENER, GRAPH_ONLY, oauth2,
                        "upstream = o365, auth { provider = contoso, principal = \"d@contoso.com\" }",
                        CLIENT + "\n protocols = [smtp]"),
                "provider = contoso", "mailproxy.accounts.\"a@contoso.com\".auth.provider",
                "no Graph scopes", "scopes.graph-shared");
    }

    @Test
    void specialUseFoldersMapToGraphsWellKnownNames() {
        MailproxyConfig c = parse(valid(LISTENER, GRAPH_ONLY, OAUTH2, APP_ONLY, CLIENT
                + "\n protocols = [pop3]\n pop3 { source = graph, folder = \"\\\\Junk\", on-delete = \"move:\\\\Trash\" }"));
        ClientConfig.Pop3Policy pop3 = c.clients().get("app").pop3();
        assertThat(pop3.folder()).isEqualTo("junkemail");
        assertThat(pop3.onDelete().moveTo()).contains("deleteditems");
        assertThat(ClientBinder.graphFolder("\\Archive")).contains("archive");
        assertThat(ClientBinder.graphFolder("\\Sent")).contains("sentitems");
        assertThat(ClientBinder.graphFolder("\\Drafts")).contains("drafts");
        assertThat(ClientBinder.graphFolder("INBOX")).contains("inbox");
        assertThat(ClientBinder.graphFolder("Inbox/Reports")).contains("Inbox/Reports");
        assertThat(ClientBinder.graphFolder("\\Flagged")).isEqualTo(Optional.empty());
    }

    @Test
    void theDefaultInboxIsGraphsInbox() {
        MailproxyConfig c = parse(valid(LISTENER, GRAPH_ONLY, OAUTH2, APP_ONLY,
                CLIENT + "\n protocols = [pop3]\n pop3 { source = graph }"));
        assertThat(c.clients().get("app").pop3().folder()).isEqualTo("inbox");
    }

    @Test
    void specialUseWithoutAGraphFolderIsRefused() {
        expectError(valid(LISTENER, GRAPH_ONLY, OAUTH2, APP_ONLY,
                        CLIENT + "\n protocols = [pop3]\n pop3 { source = graph, folder = \"\\\\Flagged\" }"),
                "source = graph", "mailproxy.clients.app.pop3.folder", "no Microsoft Graph folder",
                "deleteditems");
        expectError(valid(LISTENER, GRAPH_ONLY, OAUTH2, APP_ONLY,
                        CLIENT + "\n protocols = [pop3]\n pop3 { source = graph, on-delete = \"move:\\\\All\" }"),
                "source = graph", "mailproxy.clients.app.pop3.on-delete", "no Microsoft Graph folder", "archive");
    }

    @Test
    void graphUsersAreKnownPerAccount() {
        MailproxyConfig c = parse(valid(LISTENER, "preset = office365", OAUTH2, APP_ONLY,
                CLIENT + "\n protocols = [pop3, smtp]\n pop3 { source = graph }"));
        assertThat(c.usesGraph("a@contoso.com")).isTrue();
        MailproxyConfig imap = parse(valid(LISTENER, "preset = office365", OAUTH2, APP_ONLY, CLIENT));
        assertThat(imap.usesGraph("a@contoso.com")).isFalse();
    }

    @Test
    void graphLimitsAreBoundWithDefaults() {
        UpstreamConfig d = parse(valid(LISTENER, GRAPH_ONLY, OAUTH2, APP_ONLY, CLIENT + "\n protocols = [smtp]"))
                .upstreams().get("o365");
        assertThat(d.graphLimits()).isEqualTo(new UpstreamConfig.GraphLimits(4, 100, 2_987_712L, 3_932_160));
        UpstreamConfig own = parse(valid(LISTENER, GRAPH_ONLY + ", graph-concurrency = 2, graph-queue = 0,"
                + " graph-max-request = 1M, graph-upload-chunk = 640K", OAUTH2, APP_ONLY, CLIENT + "\n protocols = [smtp]"))
                .upstreams().get("o365");
        assertThat(own.graphLimits()).isEqualTo(new UpstreamConfig.GraphLimits(2, 0, 1024 * 1024, 640 * 1024));
    }

    @Test
    void graphLimitsOutOfRange() {
        expectError(valid(LISTENER, GRAPH_ONLY + ", graph-concurrency = 0", OAUTH2, APP_ONLY,
                CLIENT + "\n protocols = [smtp]"), "graph-concurrency", "mailproxy.upstreams.o365.graph-concurrency",
                "expected");
        expectError(valid(LISTENER, GRAPH_ONLY + ", graph-upload-chunk = 1M", OAUTH2, APP_ONLY,
                CLIENT + "\n protocols = [smtp]"), "graph-upload-chunk", "mailproxy.upstreams.o365.graph-upload-chunk",
                "multiple of 320 KiB");
        expectError(valid(LISTENER, GRAPH_ONLY + ", graph-max-request = 5M", OAUTH2, APP_ONLY,
                CLIENT + "\n protocols = [smtp]"), "graph-max-request", "mailproxy.upstreams.o365.graph-max-request",
                "at most 3M");
    }
}
