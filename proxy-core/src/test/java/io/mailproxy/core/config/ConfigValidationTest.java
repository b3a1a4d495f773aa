package io.mailproxy.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * One test per configuration error: each asserts the message names the file, the line of the offending value, the
 * full key and what is expected.
 */
class ConfigValidationTest {

    static final String HASH =
            "$argon2id$v=19$m=19456,t=2,p=1$6TsaO6x0d/1VHi+RMFHh3g$UzixO+oXxpcFtCrdeC54+jfzIIxoxVzWNORFsE8jKNI";

    /** A valid configuration; the markers {@code #L}, {@code #U}, {@code #O}, {@code #A}, {@code #C} end lines. */
    static String valid(String listeners, String upstream, String oauth2, String account, String client) {
        return "mailproxy {\n"
                + "  listeners = [\n"
                + "    " + listeners + "\n"
                + "  ]\n"
                + "  upstreams.o365 { " + upstream + " }\n"
                + "  oauth2.contoso { " + oauth2 + " }\n"
                + "  accounts.\"a@contoso.com\" { " + account + " }\n"
                + "  clients.app { " + client + " }\n"
                + "}\n";
    }

    static final String LISTENER = "{ protocol = smtp, bind = \"127.0.0.1\", port = 1025 }";
    static final String UPSTREAM = "preset = office365";
    static final String OAUTH2 = "tenant = \"contoso.onmicrosoft.com\", client-id = \"id\", client-secret = \"secret:app\"";
    static final String ACCOUNT = "upstream = o365, auth { provider = contoso, grant = client-credentials }";
    static final String CLIENT = "password = \"" + HASH + "\", account = \"a@contoso.com\"";

    static MailproxyConfig parse(String hocon) {
        return ConfigLoader.parse(hocon, "test.conf", Map.of());
    }

    /** Parses, expects a ConfigException, and checks file, line (of the line holding {@code marker}) and key. */
    static ConfigException expectError(String hocon, String marker, String key, String... expected) {
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> parse(hocon));
        assertThat(e).as("config error for " + key).isNotNull();
        assertThat(e.file()).isEqualTo("test.conf");
        assertThat(e.line()).as(e.getMessage()).isEqualTo(lineOf(hocon, marker));
        assertThat(e.key()).isEqualTo(key);
        assertThat(e.getMessage()).startsWith("test.conf:" + lineOf(hocon, marker) + ": " + key + ": ");
        for (String s : expected) {
            assertThat(e.getMessage()).contains(s);
        }
        return e;
    }

    static int lineOf(String text, String marker) {
        int at = text.indexOf(marker);
        assertThat(at).as("marker " + marker).isNotNegative();
        return (int) text.substring(0, at).chars().filter(c -> c == '\n').count() + 1;
    }

    @Test
    void baseConfigurationIsValid() {
        MailproxyConfig c = parse(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT));
        assertThat(c.clients()).containsOnlyKeys("app");
    }

    // ---- unknown keys ----

    @Test
    void unknownKeyInMailproxyBlock() {
        String hocon = valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT)
                .replace("mailproxy {\n", "mailproxy {\n  listners = []\n");
        expectError(hocon, "listners", "mailproxy.listners", "unknown key", "listeners", "state-dir");
    }

    @Test
    void unknownKeyInListener() {
        expectError(valid("{ protocol = smtp, port = 1025, adress = \"::1\" }", UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "adress", "mailproxy.listeners[0].adress", "unknown key", "allow-from", "bind");
    }

    @Test
    void unknownKeyInNestedAccountSection() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2,
                        "upstream = o365\n auth { provider = contoso, grant = client-credentials, scope = x }", CLIENT),
                "scope = x", "mailproxy.accounts.\"a@contoso.com\".auth.scope", "unknown key", "principal");
    }

    @Test
    void unknownKeyInClientPolicy() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT + "\n imap { readonly = true }"),
                "readonly", "mailproxy.clients.app.imap.readonly", "unknown key", "read-only");
    }

    @Test
    void keyOutsideMailproxyBlock() {
        String hocon = "mailprxy { state-dir = x }\n" + valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT);
        expectError(hocon, "mailprxy", "mailprxy", "expected everything inside mailproxy { ... }");
    }

    // ---- wrong types ----

    @Test
    void portThatIsNotANumber() {
        expectError(valid("{ protocol = smtp, port = twenty-five }", UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "port = twenty", "mailproxy.listeners[0].port", "expected a TCP port 1-65535", "\"twenty-five\"");
    }

    @Test
    void booleanThatIsNotABoolean() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT + "\n imap { read-only = maybe }"),
                "maybe", "mailproxy.clients.app.imap.read-only", "expected true or false");
    }

    @Test
    void durationThatIsNotADuration() {
        expectError(valid(LISTENER, UPSTREAM + "\n connect-timeout = soon", OAUTH2, ACCOUNT, CLIENT),
                "soon", "mailproxy.upstreams.o365.connect-timeout", "expected a duration such as 10s");
    }

    @Test
    void objectWhereAValueBelongs() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT + "\n account { name = x }"),
                "account { name", "mailproxy.clients.app.account", "expected", "not an object");
    }

    @Test
    void valueWhereAnObjectBelongs() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT + "\n pop3 = imap"),
                "pop3 = imap", "mailproxy.clients.app.pop3", "expected an object with keys", "on-delete");
    }

    @Test
    void listenersThatAreNotAList() {
        String hocon = valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT)
                .replace("  listeners = [\n    " + LISTENER + "\n  ]\n", "  listeners { imap = 1143 }\n");
        expectError(hocon, "listeners {", "mailproxy.listeners", "expected a list of listener objects");
    }

    // ---- enum values ----

    @Test
    void unknownListenerProtocol() {
        expectError(valid("{ protocol = ftp, port = 21 }", UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "ftp", "mailproxy.listeners[0].protocol", "expected one of imap, pop3, smtp", "\"ftp\"");
    }

    @Test
    void unknownGrant() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2,
                        "upstream = o365\n auth { provider = contoso, grant = implicit }", CLIENT),
                "implicit", "mailproxy.accounts.\"a@contoso.com\".auth.grant",
                "expected one of client-credentials, refresh-token, password");
    }

    @Test
    void unknownOnDelete() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT
                        + "\n pop3 { source = imap, on-delete = trash }"),
                "trash", "mailproxy.clients.app.pop3.on-delete", "expected expunge, keep, seen or move:FOLDER");
    }

    @Test
    void unknownTlsMode() {
        expectError(valid("{ protocol = imap, port = 993, bind = \"0.0.0.0\"\n"
                                + " tls { mode = ssl, cert-file = a.crt, key-file = a.key } }",
                        UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "mode = ssl", "mailproxy.listeners[0].tls.mode", "expected one of implicit, starttls");
    }

    @Test
    void unknownProtocolInClientProtocols() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT + "\n protocols = [imap, webdav]"),
                "webdav", "mailproxy.clients.app.protocols", "expected a list of imap, pop3, smtp");
    }

    // ---- listeners ----

    @Test
    void nonLoopbackPlaintextListenerWithoutAllowFrom() {
        expectError(valid("{ protocol = pop3, bind = \"0.0.0.0\", port = 110 }", UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "0.0.0.0", "mailproxy.listeners[0].bind", "allow-from", "tls { mode = implicit, cert-file");
    }

    @Test
    void nonLoopbackStarttlsListenerWithoutAllowFromCountsAsPlaintext() {
        // a client may log in before it upgrades, so STARTTLS alone does not make a listener safe to open to all
        expectError(valid("{ protocol = imap, bind = \"0.0.0.0\", port = 143\n"
                        + "  tls { mode = starttls, cert-file = \"/x.crt\", key-file = \"/x.key\" } }",
                        UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "0.0.0.0", "mailproxy.listeners[0].bind", "STARTTLS", "allow-from");
    }

    @Test
    void fixedClientListenerBeyondLoopbackWithoutAllowFrom() {
        // local TLS makes a plaintext warning moot, but anyone who connects would still be the fixed client
        expectError(valid("{ protocol = smtp, bind = \"0.0.0.0\", port = 465, client = app\n"
                                + " tls { cert-file = a.crt, key-file = a.key } }",
                        UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "client = app", "mailproxy.listeners[0].client", "without a password", "expected allow-from");
    }

    @Test
    void tlsWithoutCertificate() {
        expectError(valid("{ protocol = imap, port = 993, tls { mode = implicit } }", UPSTREAM, OAUTH2, ACCOUNT,
                        CLIENT),
                "tls {", "mailproxy.listeners[0].tls.cert-file", "missing; expected a file path");
    }

    @Test
    void badAllowFromBlock() {
        expectError(valid("{ protocol = smtp, bind = \"0.0.0.0\", port = 25, allow-from = [\"lan\"] }", UPSTREAM,
                        OAUTH2, ACCOUNT, CLIENT),
                "lan", "mailproxy.listeners[0].allow-from", "expected CIDR blocks such as \"192.168.10.0/24\"");
    }

    @Test
    void bindThatIsAHostName() {
        expectError(valid("{ protocol = smtp, bind = \"mail.example.com\", port = 25 }", UPSTREAM, OAUTH2, ACCOUNT,
                        CLIENT),
                "mail.example.com", "mailproxy.listeners[0].bind", "expected an IP address");
    }

    @Test
    void portOutOfRange() {
        expectError(valid("{ protocol = smtp, port = 70000 }", UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "70000", "mailproxy.listeners[0].port", "expected a TCP port 1-65535", "not 70000");
    }

    @Test
    void duplicateBindAndPort() {
        expectError(valid(LISTENER + "\n { protocol = imap, bind = \"127.0.0.1\", port = 1025 } #dup", UPSTREAM,
                        OAUTH2, ACCOUNT, CLIENT),
                "#dup", "mailproxy.listeners[1].port", "already used by smtp 127.0.0.1:1025");
    }

    @Test
    void wildcardBindClashesWithSpecificAddressOnSamePort() {
        expectError(valid(LISTENER + "\n { protocol = smtp, bind = \"0.0.0.0\", port = 1025, "
                                + "allow-from = [\"10.0.0.0/8\"] } #dup", UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "#dup", "mailproxy.listeners[1].port", "already used by smtp 127.0.0.1:1025");
    }

    @Test
    void ipv6WildcardClashesWithIpv4OnSamePort() {
        expectError(valid("{ protocol = imap, bind = \"0.0.0.0\", port = 993, allow-from = [\"10.0.0.0/8\"] }\n"
                                + " { protocol = imap, bind = \"::\", port = 993, allow-from = [\"fd00::/8\"] } #dup",
                        UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "#dup", "mailproxy.listeners[1].port", "already used by imap 0.0.0.0:993");
    }

    @Test
    void ipv4WildcardAndIpv6LoopbackMayShareAPort() {
        parse(valid("{ protocol = imap, bind = \"0.0.0.0\", port = 993, allow-from = [\"10.0.0.0/8\"] }\n"
                + " { protocol = imap, bind = \"::1\", port = 993 }", UPSTREAM, OAUTH2, ACCOUNT, CLIENT));
    }

    @Test
    void adminPortClashesWithListener() {
        String hocon = valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT)
                .replace("mailproxy {\n", "mailproxy {\n  admin { port = 1025 }\n");
        expectError(hocon, "admin {", "mailproxy.admin.port", "already used by smtp 127.0.0.1:1025");
    }

    @Test
    void fixedClientThatDoesNotExist() {
        expectError(valid("{ protocol = smtp, port = 2525, client = scanner }", UPSTREAM, OAUTH2, ACCOUNT, CLIENT),
                "client = scanner", "mailproxy.listeners[0].client", "no client \"scanner\"",
                "expected a key of clients (app)");
    }

    @Test
    void fixedClientThatMayNotUseTheListenersProtocol() {
        expectError(valid("{ protocol = pop3, port = 1110, client = app }", UPSTREAM, OAUTH2, ACCOUNT,
                        CLIENT + "\n protocols = [smtp]"),
                "client = app", "mailproxy.listeners[0].client", "may not use pop3",
                "expected a client whose protocols include pop3");
    }

    // ---- upstreams and oauth2 ----

    @Test
    void plaintextUpstreamUrl() {
        expectError(valid(LISTENER, "imap = \"imap://mail.example.com\"", OAUTH2, ACCOUNT, CLIENT),
                "imap://", "mailproxy.upstreams.o365.imap", "plaintext upstream imap://mail.example.com is refused",
                "imaps://");
    }

    @Test
    void upstreamUrlOfTheWrongProtocol() {
        expectError(valid(LISTENER, "smtp = \"imaps://mail.example.com\"", OAUTH2, ACCOUNT, CLIENT),
                "smtp = ", "mailproxy.upstreams.o365.smtp", "expected smtps://host:port or smtp+starttls://");
    }

    @Test
    void upstreamWithoutEndpoints() {
        expectError(valid(LISTENER, "ca-file = ca.pem", OAUTH2, ACCOUNT, CLIENT),
                "upstreams.o365", "mailproxy.upstreams.o365", "expected preset = office365");
    }

    @Test
    void unknownPreset() {
        expectError(valid(LISTENER, "preset = gmail", OAUTH2, ACCOUNT, CLIENT),
                "gmail", "mailproxy.upstreams.o365.preset", "expected one of", "office365", "outlook");
    }

    @Test
    void oauthEndpointThatIsNotHttps() {
        expectError(valid(LISTENER, UPSTREAM, "token-endpoint = \"http://idp.example.com/token\", client-id = x",
                        ACCOUNT, CLIENT),
                "token-endpoint", "mailproxy.oauth2.contoso.token-endpoint", "expected an https:// URL",
                "loopback");
    }

    @Test
    void oauthProviderWithoutTenantOrEndpoint() {
        expectError(valid(LISTENER, UPSTREAM, "client-id = x", ACCOUNT, CLIENT),
                "oauth2.contoso", "mailproxy.oauth2.contoso.token-endpoint", "missing", "tenant");
    }

    @Test
    void oauthProviderWithoutClientId() {
        expectError(valid(LISTENER, UPSTREAM, "tenant = contoso.onmicrosoft.com", ACCOUNT, CLIENT),
                "oauth2.contoso", "mailproxy.oauth2.contoso.client-id", "missing; expected the application");
    }

    @Test
    void certificateWithoutPrivateKey() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2 + ", certificate-file = app.crt", ACCOUNT, CLIENT),
                "oauth2.contoso", "mailproxy.oauth2.contoso.private-key-file", "certificate-file and private-key-file");
    }

    // ---- accounts and clients ----

    @Test
    void accountNamingMissingUpstream() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2,
                        "upstream = exchange\n auth { provider = contoso, grant = client-credentials }", CLIENT),
                "upstream = exchange", "mailproxy.accounts.\"a@contoso.com\".upstream", "no upstream \"exchange\"",
                "expected a key of upstreams (o365)");
    }

    @Test
    void accountNamingMissingProvider() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2,
                        "upstream = o365\n auth { provider = fabrikam, grant = client-credentials }", CLIENT),
                "fabrikam", "mailproxy.accounts.\"a@contoso.com\".auth.provider", "no oauth2 provider \"fabrikam\"",
                "expected a key of oauth2 (contoso)");
    }

    @Test
    void clientCredentialsWithoutSecret() {
        expectError(valid(LISTENER, UPSTREAM, "tenant = contoso.onmicrosoft.com, client-id = x", ACCOUNT, CLIENT),
                "grant = client-credentials", "mailproxy.accounts.\"a@contoso.com\".auth.grant",
                "expected client-secret, or certificate-file and private-key-file");
    }

    @Test
    void clientCredentialsForPersonalAccounts() {
        expectError(valid(LISTENER, "preset = outlook", "preset = outlook, client-id = x, client-secret = y",
                        ACCOUNT, CLIENT),
                "grant = client-credentials", "mailproxy.accounts.\"a@contoso.com\".auth.grant", "no app-only access",
                "expected grant = refresh-token");
    }

    @Test
    void principalWithAppOnlyGrant() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, "upstream = o365\n auth { provider = contoso, "
                                + "grant = client-credentials, principal = \"b@contoso.com\" }", CLIENT),
                "principal", "mailproxy.accounts.\"a@contoso.com\".auth.principal",
                "only for grant = refresh-token");
    }

    @Test
    void passwordAuthWithoutPassword() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, "upstream = o365\n auth { type = password }", CLIENT),
                "type = password", "mailproxy.accounts.\"a@contoso.com\".auth.password", "missing; expected password");
    }

    @Test
    void poolMinIdleAboveMax() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT + "\n pool.imap { max = 2, min-idle = 5 }", CLIENT),
                "min-idle = 5", "mailproxy.accounts.\"a@contoso.com\".pool.imap.min-idle",
                "expected min-idle at most max (2)");
    }

    @Test
    void clientNamingMissingAccount() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT,
                        "password = \"" + HASH + "\"\n account = \"b@contoso.com\""),
                "b@contoso.com", "mailproxy.clients.app.account", "no account \"b@contoso.com\"",
                "expected a key of accounts (a@contoso.com)");
    }

    @Test
    void clientWithoutAccount() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, "password = \"" + HASH + "\""),
                "clients.app", "mailproxy.clients.app.account", "missing; expected the name of an account");
    }

    @Test
    void clientPasswordThatIsNotAHashIsNotRepeated() {
        ConfigException e = expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT,
                        "password = \"Sommer2026!\"\n account = \"a@contoso.com\""),
                "Sommer2026", "mailproxy.clients.app.password", "expected an Argon2id hash from ./mailproxy hash-password");
        assertThat(e.getMessage()).doesNotContain("Sommer2026");
    }

    @Test
    void clientWithoutPasswordThatIsNoFixedClient() {
        expectError(valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, "account = \"a@contoso.com\""),
                "clients.app", "mailproxy.clients.app.password", "missing", "only a listener's fixed client");
    }

    @Test
    void clientProtocolTheUpstreamDoesNotServe() {
        expectError(valid(LISTENER, "smtp = \"smtp+starttls://smtp.example.com\"", OAUTH2, ACCOUNT,
                        CLIENT + "\n protocols = [smtp, imap]"),
                "protocols = [smtp, imap]", "mailproxy.clients.app.protocols", "has no imap endpoint");
    }

    @Test
    void limitsOutOfRange() {
        String hocon = valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT)
                .replace("mailproxy {\n", "mailproxy {\n  limits { max-connections = 10, max-unauthenticated = 50 }\n");
        expectError(hocon, "limits {", "mailproxy.limits.max-unauthenticated", "expected at most max-connections (10)");
    }

    @Test
    void loginFailureLimits() {
        String base = valid(LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT);
        MailproxyConfig c = parse(base.replace("mailproxy {\n",
                "mailproxy {\n  limits { login-failure-delay = 500ms, max-login-failures = 5 }\n"));
        assertThat(c.limits().loginFailureDelay()).isEqualTo(java.time.Duration.ofMillis(500));
        assertThat(c.limits().maxLoginFailures()).isEqualTo(5);
        expectError(base.replace("mailproxy {\n", "mailproxy {\n  limits { login-failure-delay = 2m }\n"), "limits {",
                "mailproxy.limits.login-failure-delay", "at most 1m");
        expectError(base.replace("mailproxy {\n", "mailproxy {\n  limits { max-login-failures = 0 }\n"), "limits {",
                "mailproxy.limits.max-login-failures", "a count 1-100");
    }

    @Test
    void syntaxErrorNamesFileAndLine() {
        String hocon = "mailproxy {\n  listeners = [\n    { protocol = smtp, port = 25 \n  ]\n}\n";
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> parse(hocon));
        assertThat(e.file()).isEqualTo("test.conf");
        assertThat(e.line()).isBetween(3, 4);
        assertThat(e.getMessage()).contains("expected valid HOCON");
    }

    @Test
    void undefinedSubstitutionNamesFileAndLine() {
        String hocon = valid(LISTENER, UPSTREAM, OAUTH2 + "\n client-id = ${APP_ID}", ACCOUNT, CLIENT);
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> parse(hocon));
        assertThat(e.file()).isEqualTo("test.conf");
        assertThat(e.line()).isEqualTo(lineOf(hocon, "APP_ID"));
        assertThat(e.getMessage()).contains("APP_ID").contains("${?NAME}");
    }

    @Test
    void everyErrorIsReportedNotJustTheFirst() {
        String hocon = valid("{ protocol = ftp, port = 21 }", "imap = \"imap://x\"", OAUTH2, ACCOUNT,
                "password = \"" + HASH + "\"\n account = nobody");
        ConfigException e = catchThrowableOfType(ConfigException.class, () -> parse(hocon));
        assertThat(e.key()).isEqualTo("mailproxy.listeners[0].protocol");
        assertThat(e.getSuppressed()).extracting(t -> ((ConfigException) t).key())
                .containsExactly("mailproxy.upstreams.o365.imap", "mailproxy.clients.app.account");
    }
}
