package io.mailproxy.core.config;

import static io.mailproxy.core.config.ConfigValidationTest.ACCOUNT;
import static io.mailproxy.core.config.ConfigValidationTest.CLIENT;
import static io.mailproxy.core.config.ConfigValidationTest.HASH;
import static io.mailproxy.core.config.ConfigValidationTest.LISTENER;
import static io.mailproxy.core.config.ConfigValidationTest.OAUTH2;
import static io.mailproxy.core.config.ConfigValidationTest.UPSTREAM;
import static io.mailproxy.core.config.ConfigValidationTest.valid;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.mailproxy.core.Protocol;
import java.io.IOException;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

    static final Path EXAMPLE = Path.of("..", "conf", "mailproxy.conf");

    @TempDir
    Path dir;

    // ---- the shipped example ----

    @Test
    void exampleConfigurationIsValid() {
        MailproxyConfig c = ConfigLoader.load(EXAMPLE, Map.of());

        assertThat(c.source()).isEqualTo(EXAMPLE.toString());
        assertThat(c.listeners()).extracting(ListenerConfig::describe).containsExactly(
                "imap 127.0.0.1:1143", "pop3 127.0.0.1:1110", "smtp 127.0.0.1:1025", "smtp 0.0.0.0:2525");
        ListenerConfig scanner = c.listeners().get(3);
        assertThat(scanner.client()).contains("scanner@contoso.com");
        assertThat(scanner.allowFrom()).containsExactly(Cidr.parse("192.168.10.0/24"));
        assertThat(scanner.tls()).isEmpty();

        UpstreamConfig o365 = c.upstreams().get("office365");
        assertThat(o365.endpoint(Protocol.IMAP).orElseThrow().toUrl()).isEqualTo("imaps://outlook.office365.com:993");

        OAuth2ProviderConfig contoso = c.oauth2().get("contoso");
        assertThat(contoso.tenant()).contains("contoso.onmicrosoft.com");
        assertThat(contoso.clientSecret()).contains(new SecretRef.Stored("contoso-app"));

        assertThat(c.accounts().get("alice@contoso.com").auth()).isEqualTo(new AuthConfig.OAuth2("contoso",
                AuthConfig.Grant.REFRESH_TOKEN, Optional.empty(), Optional.empty(), Optional.empty()));
        AccountConfig reports = c.accounts().get("reports@contoso.com");
        assertThat(((AuthConfig.OAuth2) reports.auth()).grant()).isEqualTo(AuthConfig.Grant.CLIENT_CREDENTIALS);
        assertThat(reports.pool(Protocol.IMAP).max()).isEqualTo(4);
        assertThat(reports.pool(Protocol.SMTP).max()).isEqualTo(3);
        AccountConfig shared = c.accounts().get("invoices@contoso.com");
        assertThat(shared.mailbox()).isEqualTo("invoices@contoso.com");
        assertThat(((AuthConfig.OAuth2) shared.auth()).principal()).contains("alice@contoso.com");

        ClientConfig erp = c.clients().get("erp");
        assertThat(erp.protocols()).containsExactly(Protocol.POP3);
        assertThat(erp.pop3()).isEqualTo(new ClientConfig.Pop3Policy(ClientConfig.Pop3Policy.Source.IMAP, "INBOX",
                false, new ClientConfig.OnDelete(ClientConfig.OnDelete.Kind.MOVE, Optional.of("\\Trash"))));
        ClientConfig archiver = c.clients().get("archiver");
        assertThat(archiver.imap()).isEqualTo(new ClientConfig.ImapPolicy(true, List.of("INBOX", "Archive")));
        ClientConfig monitoring = c.clients().get("monitoring");
        assertThat(monitoring.smtp()).isEqualTo(new ClientConfig.SmtpPolicy(ClientConfig.SmtpPolicy.Sender.REWRITE,
                ClientConfig.SmtpPolicy.OriginalFrom.REPLY_TO, 25L * 1024 * 1024, true));
        ClientConfig scannerClient = c.clients().get("scanner@contoso.com");
        assertThat(scannerClient.passwordHash()).isEmpty();
        assertThat(scannerClient.smtp().sender()).isEqualTo(ClientConfig.SmtpPolicy.Sender.REWRITE);

        assertThat(ConfigLoader.warnings(c)).containsExactly("listener smtp 0.0.0.0:2525 is plaintext and reachable "
                + "from [192.168.10.0/24]: any host there acts as client scanner@contoso.com without a password");
    }

    /** DESIGN.md's configuration example, verbatim but for the elided client id and hash. */
    static final String DESIGN_EXAMPLE = """
            mailproxy {
              state-dir = ${?STATE_DIRECTORY}           # secret store, tokens, spool; else ./state
              listeners = [                             # loopback unless allow-from says otherwise
                { protocol = imap, bind = "127.0.0.1", port = 1143 }
                { protocol = pop3, bind = "127.0.0.1", port = 1110 }
                { protocol = smtp, bind = "127.0.0.1", port = 1025 }
                { protocol = smtp, bind = "0.0.0.0", port = 2525, client = "scanner@contoso.com",   # fixed client: no AUTH
                  allow-from = ["192.168.10.0/24"] }    # plaintext off-host only from these networks; warned at start-up
                { protocol = imap, bind = "0.0.0.0", port = 993,                        # local TLS (PEM files)
                  tls { mode = implicit, cert-file = "/etc/mailproxy/tls.crt", key-file = "/etc/mailproxy/tls.key" } }
              ]                                          # tls.mode = starttls offers STARTTLS / STLS instead
              upstreams.office365 { preset = office365, ca-file = null }   # or imap/pop3/smtp URLs of its own
              oauth2.contoso {
                tenant = "contoso.onmicrosoft.com"      # with the Microsoft authority; or token-endpoint etc. for any IdP
                client-id = "00000000-0000-0000-0000-000000000000"
                client-secret = "secret:contoso-app"    # "secret:NAME" is looked up in the secret store
              }
              accounts."reports@contoso.com" {          # key = mailbox unless `mailbox` says otherwise
                upstream = office365
                auth { type = oauth2, provider = contoso, grant = client-credentials }   # or refresh-token | password (ROPC)
                # auth { type = oauth2, provider = contoso, grant = refresh-token, principal = "it-admin@contoso.com" }
                # auth { type = password, password = "secret:reports-pw" }
                from = "reports@contoso.com"            # address for sender rewriting; defaults to the mailbox
                pool.imap { max = 8, min-idle = 1 }
                pool.smtp { max = 3 }                   # Office 365 allows 3 concurrent SMTP connections per mailbox
              }
              clients."scanner@contoso.com" {           # key = the login name a legacy app sends
                password = "$argon2id$v=19$m=19456,t=2,p=1$6TsaO6x0d/1VHi+RMFHh3g$UzixO+oXxpcFtCrdeC54+jfzIIxoxVzWNORFsE8jKNI"                # from ./mailproxy hash-password
                account = "reports@contoso.com"
                protocols = [pop3, smtp]
                pop3 { source = imap, folder = INBOX, on-delete = "move:\\\\Trash" }     # source = pop3 passes through
                smtp { sender = rewrite }               # envelope and From: become the account's `from`
              }
              admin { bind = "127.0.0.1", port = 9143 } # /metrics (Prometheus), /health, /status
            }
            """;

    @Test
    void designExampleIsValid() {
        MailproxyConfig c = ConfigLoader.parse(DESIGN_EXAMPLE, "design", Map.of());
        assertThat(c.stateDir()).isEqualTo(Path.of("./state"));
        assertThat(c.listeners()).hasSize(5);
        assertThat(c.listeners().get(4).tls()).contains(new ListenerTls(ListenerTls.Mode.IMPLICIT,
                Path.of("/etc/mailproxy/tls.crt"), Path.of("/etc/mailproxy/tls.key")));
        assertThat(c.upstreams().get("office365").caFile()).isEmpty();
        ClientConfig scanner = c.clients().get("scanner@contoso.com");
        assertThat(scanner.pop3().onDelete().moveTo()).contains("\\Trash");
        assertThat(scanner.smtp().sender()).isEqualTo(ClientConfig.SmtpPolicy.Sender.REWRITE);
        assertThat(c.accounts().get("reports@contoso.com").pool(Protocol.IMAP).minIdle()).isEqualTo(1);
        assertThat(c.admin()).isEqualTo(new AdminConfig(true, "127.0.0.1", 9143));
        assertThat(ConfigLoader.parse(DESIGN_EXAMPLE, "design", Map.of("STATE_DIRECTORY", "/srv/mp")).stateDir())
                .isEqualTo(Path.of("/srv/mp"));
    }

    @Test
    void exampleTakesTenantFromEnvironmentWhenSet() {
        MailproxyConfig c = ConfigLoader.load(EXAMPLE, Map.of("MAILPROXY_TENANT", "fabrikam.onmicrosoft.com"));
        OAuth2ProviderConfig p = c.oauth2().get("contoso");
        assertThat(p.tenant()).contains("fabrikam.onmicrosoft.com");
        assertThat(p.tokenEndpoint()).isEqualTo(
                URI.create("https://login.microsoftonline.com/fabrikam.onmicrosoft.com/oauth2/v2.0/token"));
    }

    // ---- defaults ----

    @Test
    void defaultsFromReferenceConf() {
        MailproxyConfig c = ConfigLoader.parse(valid(LISTENER, UPSTREAM, OAUTH2,
                "upstream = o365, auth { provider = contoso }", CLIENT), "t", Map.of());

        assertThat(c.stateDir()).isEqualTo(Path.of("./state"));
        assertThat(c.admin()).isEqualTo(new AdminConfig(true, "127.0.0.1", 9143));
        assertThat(c.limits()).isEqualTo(new LimitsConfig(2000, 200, Duration.ofSeconds(10), 2, 20, 10));
        UpstreamConfig u = c.upstreams().get("o365");
        assertThat(u.connectTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(u.handshakeTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(u.replyTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(u.caFile()).isEmpty();
        AccountConfig a = c.accounts().get("a@contoso.com");
        assertThat(a.mailbox()).isEqualTo("a@contoso.com");
        assertThat(a.from()).isEqualTo("a@contoso.com");
        assertThat(a.auth()).isEqualTo(new AuthConfig.OAuth2("contoso", AuthConfig.Grant.REFRESH_TOKEN,
                Optional.empty(), Optional.empty(), Optional.empty()));
        assertThat(a.pool(Protocol.IMAP)).isEqualTo(new PoolConfig(8, 1, Duration.ofSeconds(10),
                Duration.ofMinutes(10), Duration.ofSeconds(30), Duration.ofMinutes(5), Duration.ofMinutes(4)));
        assertThat(a.pool(Protocol.SMTP).max()).isEqualTo(3);
        assertThat(a.pool(Protocol.SMTP).minIdle()).isZero();
        assertThat(a.pool(Protocol.POP3)).isEqualTo(PoolConfig.NOT_POOLED);
        ClientConfig client = c.clients().get("app");
        assertThat(client.protocols()).containsExactlyInAnyOrder(Protocol.IMAP, Protocol.POP3, Protocol.SMTP);
        assertThat(client.imap()).isEqualTo(ClientConfig.ImapPolicy.DEFAULT);
        assertThat(client.pop3()).isEqualTo(ClientConfig.Pop3Policy.DEFAULT);
        assertThat(client.smtp()).isEqualTo(ClientConfig.SmtpPolicy.DEFAULT);
        assertThat(c.section("templates").hasPath("account.pool.imap.max")).isTrue();
    }

    @Test
    void stateDirFromSystemdStateDirectory() {
        MailproxyConfig c = ConfigLoader.parse(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT), "t",
                Map.of("STATE_DIRECTORY", "/var/lib/mailproxy"));
        assertThat(c.stateDir()).isEqualTo(Path.of("/var/lib/mailproxy"));
    }

    @Test
    void overridingATemplateChangesTheDefaultOfEveryEntry() {
        String hocon = valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT)
                .replace("mailproxy {\n", "mailproxy {\n  templates.account.pool.imap.max = 2\n");
        MailproxyConfig c = ConfigLoader.parse(hocon, "t", Map.of());
        assertThat(c.accounts().get("a@contoso.com").pool(Protocol.IMAP).max()).isEqualTo(2);
    }

    @Test
    void accountMailboxAndFromOverrideTheKey() {
        MailproxyConfig c = ConfigLoader.parse(valid(LISTENER, UPSTREAM, OAUTH2, "mailbox = \"x@contoso.com\", "
                + "from = \"noreply@contoso.com\", upstream = o365, auth { type = password, username = x, "
                + "password = \"secret:x-pw\" }", CLIENT), "t", Map.of());
        AccountConfig a = c.accounts().get("a@contoso.com");
        assertThat(a.mailbox()).isEqualTo("x@contoso.com");
        assertThat(a.from()).isEqualTo("noreply@contoso.com");
        assertThat(a.auth()).isEqualTo(new AuthConfig.Password(Optional.of("x"), new SecretRef.Stored("x-pw")));
    }

    // ---- presets and identity providers ----

    @Test
    void office365Preset() {
        MailproxyConfig c = ConfigLoader.parse(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT), "t", Map.of());
        UpstreamConfig u = c.upstreams().get("o365");
        assertThat(u.preset()).contains("office365");
        assertThat(u.endpoints().values()).extracting(UpstreamEndpoint::toUrl).containsExactlyInAnyOrder(
                "imaps://outlook.office365.com:993", "pop3s://outlook.office365.com:995",
                "smtp+starttls://smtp.office365.com:587");
        OAuth2ProviderConfig p = c.oauth2().get("contoso");
        String base = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/";
        assertThat(p.tokenEndpoint()).isEqualTo(URI.create(base + "token"));
        assertThat(p.deviceAuthorizationEndpoint()).isEqualTo(URI.create(base + "devicecode"));
        assertThat(p.authorizationEndpoint()).isEqualTo(URI.create(base + "authorize"));
        assertThat(p.delegatedScopesImap()).containsExactly(
                "https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access");
        assertThat(p.delegatedScopesPop3()).containsExactly(
                "https://outlook.office.com/POP.AccessAsUser.All", "offline_access");
        assertThat(p.delegatedScopesSmtp()).containsExactly("https://outlook.office.com/SMTP.Send", "offline_access");
        assertThat(p.appScopes()).containsExactly("https://outlook.office365.com/.default");
    }

    @Test
    void outlookPresetForPersonalAccounts() {
        MailproxyConfig c = ConfigLoader.parse(valid(LISTENER, "preset = outlook", "preset = outlook, client-id = x",
                "upstream = o365, auth { provider = contoso, grant = refresh-token }", CLIENT), "t", Map.of());
        assertThat(c.upstreams().get("o365").endpoint(Protocol.SMTP).orElseThrow().toUrl())
                .isEqualTo("smtp+starttls://smtp-mail.outlook.com:587");
        assertThat(c.upstreams().get("o365").endpoint(Protocol.IMAP).orElseThrow().toUrl())
                .isEqualTo("imaps://outlook.office365.com:993");
        OAuth2ProviderConfig p = c.oauth2().get("contoso");
        assertThat(p.tenant()).contains("consumers");
        assertThat(p.tokenEndpoint()).isEqualTo(
                URI.create("https://login.microsoftonline.com/consumers/oauth2/v2.0/token"));
        assertThat(p.delegatedScopesSmtp()).containsExactly("https://outlook.office.com/SMTP.Send", "offline_access");
        assertThat(p.appScopes()).isEmpty();
    }

    @Test
    void presetUrlsCanBeOverriddenPerProtocol() {
        MailproxyConfig c = ConfigLoader.parse(valid(LISTENER,
                "preset = office365, smtp = \"smtps://127.0.0.1:4650\", ca-file = \"/tmp/ca.pem\"", OAUTH2, ACCOUNT,
                CLIENT), "t", Map.of());
        UpstreamConfig u = c.upstreams().get("o365");
        assertThat(u.endpoint(Protocol.SMTP).orElseThrow()).isEqualTo(new UpstreamEndpoint(Protocol.SMTP,
                UpstreamEndpoint.Security.IMPLICIT_TLS, "127.0.0.1", 4650));
        assertThat(u.endpoint(Protocol.IMAP).orElseThrow().host()).isEqualTo("outlook.office365.com");
        assertThat(u.caFile()).contains(Path.of("/tmp/ca.pem"));
    }

    @Test
    void anyIdentityProviderOnLoopbackByItsEndpoints() {
        MailproxyConfig c = ConfigLoader.parse(valid(LISTENER, "imap = \"imaps://127.0.0.1:9993\"",
                "token-endpoint = \"http://127.0.0.1:8080/tenant/oauth2/v2.0/token\", client-id = x, "
                        + "client-secret = s, redirect-uri = \"http://localhost:8765/cb\"",
                ACCOUNT, CLIENT + ", protocols = [imap]"), "t", Map.of());
        OAuth2ProviderConfig p = c.oauth2().get("contoso");
        assertThat(p.tenant()).isEmpty();
        assertThat(p.tokenEndpoint()).isEqualTo(URI.create("http://127.0.0.1:8080/tenant/oauth2/v2.0/token"));
        assertThat(p.deviceAuthorizationEndpoint())
                .isEqualTo(URI.create("http://127.0.0.1:8080/tenant/oauth2/v2.0/devicecode"));
        assertThat(p.authorizationEndpoint())
                .isEqualTo(URI.create("http://127.0.0.1:8080/tenant/oauth2/v2.0/authorize"));
        assertThat(p.redirectUri()).contains(URI.create("http://localhost:8765/cb"));
        assertThat(p.clientSecret()).contains(new SecretRef.Literal("s"));
        assertThat(p.appScopes()).containsExactly("https://outlook.office365.com/.default");
    }

    @Test
    void ipv6LoopbackIdentityProviderAndOwnScopes() {
        MailproxyConfig c = ConfigLoader.parse(valid(LISTENER, UPSTREAM,
                "token-endpoint = \"http://[::1]:8080/t\", device-authorization-endpoint = \"http://[::1]:8080/d\", "
                        + "authorization-endpoint = \"https://idp.example/a\", client-id = x, client-secret = s, "
                        + "scopes { app = [\"api://mail/.default\"] }",
                ACCOUNT, CLIENT), "t", Map.of());
        assertThat(c.oauth2().get("contoso").appScopes()).containsExactly("api://mail/.default");
    }

    // ---- includes, environment, frontends' reference.conf ----

    @Test
    void includesAreRelativeToTheFileAndErrorsNameTheIncludedFile() throws IOException {
        Path main = dir.resolve("mailproxy.conf");
        Files.writeString(main, "mailproxy {\n  include \"clients.conf\"\n  listeners = [ " + LISTENER + " ]\n"
                + "  upstreams.o365 { " + UPSTREAM + " }\n  oauth2.contoso { " + OAUTH2 + " }\n"
                + "  accounts.\"a@contoso.com\" { " + ACCOUNT + " }\n}\n");
        Files.writeString(dir.resolve("clients.conf"), "clients.app {\n  password = \"" + HASH + "\"\n"
                + "  account = \"a@contoso.com\"\n}\n");
        MailproxyConfig c = ConfigLoader.load(main, Map.of());
        assertThat(c.clients()).containsOnlyKeys("app");

        Files.writeString(dir.resolve("clients.conf"), "clients.app {\n  password = \"" + HASH + "\"\n"
                + "  account = \"b@contoso.com\"\n}\n");
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.load(main, Map.of()));
        assertThat(e.file()).isEqualTo(dir.resolve("clients.conf").toString());
        assertThat(e.line()).isEqualTo(3);
        assertThat(e.key()).isEqualTo("mailproxy.clients.app.account");
    }

    @Test
    void environmentSubstitution() {
        String hocon = valid(LISTENER, UPSTREAM, "tenant = ${?TENANT}, client-id = ${APP_ID}, "
                + "client-secret = \"secret:app\"", ACCOUNT, CLIENT);
        MailproxyConfig c = ConfigLoader.parse(hocon, "t", Map.of("APP_ID", "1234", "TENANT", "t.example"));
        assertThat(c.oauth2().get("contoso").clientId()).isEqualTo("1234");
        assertThat(c.oauth2().get("contoso").tenant()).contains("t.example");
    }

    @Test
    void missingFileIsAConfigError() {
        Path missing = dir.resolve("nope.conf");
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> ConfigLoader.load(missing));
        assertThat(e.file()).isEqualTo(missing.toString());
        assertThat(e.getMessage()).contains("no such file");
    }

    @Test
    void keysFromAFrontendsReferenceConfAreKnown() throws IOException {
        Files.writeString(dir.resolve("reference.conf"),
                "mailproxy.imap {\n  max-line = 8k\n  policies {}\n}\n");
        String hocon = valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT)
                .replace("mailproxy {\n", "mailproxy {\n  imap { max-line = 16k, policies { any = 1 } }\n");
        try (URLClassLoader frontend = new URLClassLoader(new URL[] {dir.toUri().toURL()},
                getClass().getClassLoader())) {
            MailproxyConfig c = ConfigLoader.parse(hocon, "t", Map.of(), frontend);
            assertThat(c.section("imap").getBytes("max-line")).isEqualTo(16 * 1024L);

            String typo = hocon.replace("max-line = 16k", "max-lines = 16k");
            ConfigException e = catchThrowableOfType(ConfigException.class,
                    () -> ConfigLoader.parse(typo, "t", Map.of(), frontend));
            assertThat(e.key()).isEqualTo("mailproxy.imap.max-lines");
            assertThat(e.getMessage()).contains("expected one of: max-line, policies");
        }
        // without the frontend on the class path the section is unknown
        ConfigException e = catchThrowableOfType(ConfigException.class,
                () -> ConfigLoader.parse(hocon, "t", Map.of()));
        assertThat(e.key()).isEqualTo("mailproxy.imap");
    }

    // ---- path resolution ----

    @Test
    void explicitPathWins() {
        assertThat(ConfigLoader.resolvePath(Optional.of(Path.of("my.conf")), Map.of("MAILPROXY_CONFIG", "env.conf"),
                p -> true)).isEqualTo(Path.of("my.conf"));
    }

    @Test
    void environmentVariableNext() {
        assertThat(ConfigLoader.resolvePath(Optional.empty(), Map.of("MAILPROXY_CONFIG", "env.conf"), p -> true))
                .isEqualTo(Path.of("env.conf"));
    }

    @Test
    void systemFileWhenItExists() {
        assertThat(ConfigLoader.resolvePath(Optional.empty(), Map.of("MAILPROXY_CONFIG", " "),
                p -> p.equals(Path.of("/etc/mailproxy/mailproxy.conf"))))
                .isEqualTo(Path.of("/etc/mailproxy/mailproxy.conf"));
    }

    @Test
    void localExampleLast() {
        assertThat(ConfigLoader.resolvePath(Optional.empty(), Map.of(), p -> false))
                .isEqualTo(Path.of("conf/mailproxy.conf"));
    }

    @Test
    void adminRequestDeadlineIsBound() {
        String hocon = valid(LISTENER, UPSTREAM, OAUTH2, "upstream = o365, auth { provider = contoso }", CLIENT)
                .replace("mailproxy {\n", "mailproxy {\n  admin.request-deadline = 3s\n");
        assertThat(ConfigLoader.parse(hocon, "t", Map.of()).admin())
                .isEqualTo(new AdminConfig(true, "127.0.0.1", 9143, Duration.ofSeconds(3)));
    }

    // ---- warnings ----

    @Test
    void warnsAboutPlaintextOffHostAndAdminBeyondLoopbackAndTooManySmtpConnections() {
        String hocon = valid("{ protocol = pop3, bind = \"0.0.0.0\", port = 110, allow-from = [\"10.1.0.0/16\"] }\n"
                        + " { protocol = imap, bind = \"::\", port = 993, tls { cert-file = a.crt, key-file = a.key } }",
                UPSTREAM, OAUTH2, ACCOUNT + ", pool.smtp.max = 5", CLIENT)
                .replace("mailproxy {\n", "mailproxy {\n  admin.bind = \"0.0.0.0\"\n");
        MailproxyConfig c = ConfigLoader.parse(hocon, "t", Map.of());
        assertThat(ConfigLoader.warnings(c)).containsExactly(
                "listener pop3 0.0.0.0:110 is plaintext and reachable from [10.1.0.0/16]: passwords cross the "
                        + "network unencrypted",
                "admin endpoint on 0.0.0.0:9143 is reachable from other hosts: /status and /metrics name accounts "
                        + "and clients",
                "account a@contoso.com: pool.smtp.max = 5 but Office 365 allows 3 concurrent SMTP connections per "
                        + "mailbox (432 4.3.2 beyond)");
        assertThat(c.listeners().get(1).tls()).contains(new ListenerTls(ListenerTls.Mode.IMPLICIT, Path.of("a.crt"),
                Path.of("a.key")));
    }

    @Test
    void loopbackListenersRaiseNoWarning() {
        MailproxyConfig c = ConfigLoader.parse(valid(LISTENER + "\n { protocol = imap, bind = \"::1\", port = 0 }"
                + "\n { protocol = imap, bind = \"127.0.0.2\", port = 0 }", UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "t", Map.of());
        assertThat(ConfigLoader.warnings(c)).isEmpty();
    }
}
