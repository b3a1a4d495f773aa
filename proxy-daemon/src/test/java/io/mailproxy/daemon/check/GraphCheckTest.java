package io.mailproxy.daemon.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.credentials.AccessToken;
import io.mailproxy.core.credentials.UpstreamCredentials;
import io.mailproxy.core.graph.GraphException;
import io.mailproxy.core.graph.GraphMail;
import io.mailproxy.core.graph.MessagePage;
import io.mailproxy.core.upstream.UpstreamException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/** {@code check}'s Graph rows: token failures, the folder listing and the draft probe (issue 16). */
class GraphCheckTest {
    private static final String HASH =
            "$argon2id$v=19$m=19456,t=2,p=1$6TsaO6x0d/1VHi+RMFHh3g$UzixO+oXxpcFtCrdeC54+jfzIIxoxVzWNORFsE8jKNI";

    private static MailproxyConfig config(String upstream, String grant, String client) {
        return ConfigLoader.parse("mailproxy {\n"
                + "  upstreams.up { " + upstream + " }\n"
                + "  oauth2.contoso { tenant = \"contoso.onmicrosoft.com\", client-id = \"id\", client-secret = \"s\" }\n"
                + "  accounts.\"box@contoso.com\" { upstream = up, auth { provider = contoso, grant = " + grant + " } }\n"
                + "  accounts.\"imap@contoso.com\" { upstream = up, auth { provider = contoso, grant = " + grant + " } }\n"
                + "  clients.app { password = \"" + HASH + "\", account = \"box@contoso.com\", " + client + " }\n"
                + "}\n", "test.conf");
    }

    private final List<String> calls = new ArrayList<>();

    /** A GraphMail answering the calls named in {@code answers}; any other call fails the test. */
    private GraphMail graph(Function<String, CompletableFuture<?>> answers) {
        return (GraphMail) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[] {GraphMail.class},
                (proxy, method, args) -> {
                    String call = method.getName() + (args != null && args.length > 1 && args[1] instanceof String s
                            ? "(" + s + ")" : "");
                    calls.add(call);
                    CompletableFuture<?> f = answers.apply(call);
                    if (f == null) {
                        throw new AssertionError("unexpected Graph call " + call);
                    }
                    return f;
                });
    }

    private static UpstreamCredentials tokens(CompletableFuture<AccessToken> token) {
        return new UpstreamCredentials() {
            @Override
            public CompletableFuture<Login> loginFor(AccountConfig account, io.mailproxy.core.Protocol protocol) {
                throw new AssertionError("no mail protocol login in the Graph check");
            }

            @Override
            public CompletableFuture<AccessToken> graphToken(AccountConfig account, URI graphBase) {
                assertThat(graphBase).isEqualTo(URI.create("https://graph.microsoft.com/v1.0"));
                return token;
            }
        };
    }

    private static final CompletableFuture<AccessToken> TOKEN =
            CompletableFuture.completedFuture(new AccessToken("t", Instant.parse("2026-12-07T23:00:00Z")));

    @Test
    void pop3FromGraphListsEachFolderAndSmtpThroughGraphCreatesAndDeletesADraft() {
        MailproxyConfig cfg = config("preset = office365-graph", "client-credentials",
                "protocols = [smtp, pop3], pop3 { source = graph, folder = \"\\\\Archive\" }");
        List<UpstreamCheck.Row> rows = new GraphCheck(tokens(TOKEN), graph(call -> switch (call) {
            case "list(archive)" -> CompletableFuture.completedFuture(new MessagePage(List.of(), Optional.empty()));
            case "createMimeDraft" -> CompletableFuture.completedFuture("AAMk-draft");
            case "delete(AAMk-draft)" -> CompletableFuture.completedFuture(null);
            default -> null;
        })).run(cfg, Duration.ofSeconds(5));
        assertThat(rows).extracting(UpstreamCheck.Row::account, UpstreamCheck.Row::protocol, UpstreamCheck.Row::ok)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("box@contoso.com", Protocol.SMTP, true),
                        org.assertj.core.groups.Tuple.tuple("box@contoso.com", Protocol.POP3, true));
        assertThat(rows.get(0).endpoint()).isEqualTo("https://graph.microsoft.com/v1.0");
        assertThat(rows.get(1).detail()).contains("archive (0 messages on the first page)");
        assertThat(calls).containsExactly("createMimeDraft", "delete(AAMk-draft)", "list(archive)");
    }

    @Test
    void missingConsentIsARowPerProtocolThatSaysWhatToDo() {
        MailproxyConfig cfg = config("preset = office365, send-with = graph", "refresh-token",
                "protocols = [smtp, pop3], pop3 { source = graph }");
        List<UpstreamCheck.Row> rows = new GraphCheck(tokens(CompletableFuture.failedFuture(new UpstreamException(
                UpstreamException.Kind.CREDENTIALS_REJECTED, "provider contoso refused the refresh_token grant:"
                + " invalid_grant: AADSTS65001: The user or administrator has not consented"))),
                graph(call -> null)).run(cfg, Duration.ofSeconds(5));
        assertThat(rows).hasSize(2).allSatisfy(r -> {
            assertThat(r.ok()).isFalse();
            assertThat(r.detail()).contains("AADSTS65001").contains("run ./mailproxy login box@contoso.com");
        });
        assertThat(calls).isEmpty();
    }

    @Test
    void theHintNamesTheCommandAsInstalled() {
        // /usr/bin/mailproxy (the Debian package) and /usr/local/bin/mailproxy (install.sh) are run as `mailproxy`;
        // their launcher says so with MAILPROXY_COMMAND, here the system property that stands for it
        MailproxyConfig cfg = config("preset = office365, send-with = graph", "refresh-token",
                "protocols = [smtp], pop3 { source = graph }");
        System.setProperty("mailproxy.command", "mailproxy");
        try {
            List<UpstreamCheck.Row> rows = new GraphCheck(tokens(CompletableFuture.failedFuture(new UpstreamException(
                    UpstreamException.Kind.CREDENTIALS_REJECTED, "provider contoso refused the refresh_token grant:"
                    + " invalid_grant: AADSTS65001: The user or administrator has not consented"))),
                    graph(call -> null)).run(cfg, Duration.ofSeconds(5));
            assertThat(rows).isNotEmpty().allSatisfy(r -> assertThat(r.detail())
                    .contains("run mailproxy login box@contoso.com").doesNotContain("./mailproxy"));
        } finally {
            System.clearProperty("mailproxy.command");
        }
    }

    @Test
    void theTokenEndpointDownIsSaidSo() {
        MailproxyConfig cfg = config("preset = office365-graph", "client-credentials", "protocols = [smtp]");
        List<UpstreamCheck.Row> rows = new GraphCheck(tokens(CompletableFuture.failedFuture(new UpstreamException(
                UpstreamException.Kind.CREDENTIALS_UNAVAILABLE, "token endpoint https://login.microsoftonline.com"
                + " unreachable: connection refused"))), graph(call -> null)).run(cfg, Duration.ofSeconds(5));
        assertThat(rows).singleElement().satisfies(r -> {
            assertThat(r.ok()).isFalse();
            assertThat(r.protocol()).isEqualTo(Protocol.SMTP);
            assertThat(r.detail()).startsWith("no Graph token: credentials unavailable: token endpoint");
        });
    }

    @Test
    void aMissingPermissionNamesGraphsCodeAndWhatToGrant() {
        MailproxyConfig cfg = config("preset = office365-graph", "client-credentials",
                "protocols = [pop3], pop3 { source = graph }");
        List<UpstreamCheck.Row> rows = new GraphCheck(tokens(TOKEN), graph(call -> call.equals("list(inbox)")
                ? CompletableFuture.failedFuture(new GraphException(GraphException.Kind.NOT_AUTHORISED, 403,
                        "ErrorAccessDenied", "Access is denied. Check credentials and try again.", Optional.empty(),
                        null)) : null)).run(cfg, Duration.ofSeconds(5));
        assertThat(rows).singleElement().satisfies(r -> {
            assertThat(r.ok()).isFalse();
            assertThat(r.detail()).contains("Graph answered 403 ErrorAccessDenied").contains("Mail.ReadWrite")
                    .contains("RBAC for Applications");
        });
    }

    @Test
    void accountsWithoutGraphClientsAreNotProbed() {
        MailproxyConfig cfg = config("preset = office365", "client-credentials", "protocols = [imap, smtp]");
        assertThat(new GraphCheck(tokens(TOKEN), graph(call -> null)).run(cfg, Duration.ofSeconds(5))).isEmpty();
    }
}
