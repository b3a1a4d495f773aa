package io.mailproxy.core.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.identity.PasswordHasher;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Binds the resolved {@code mailproxy} block to records and validates it. Each entry stops at its first error (so
 * one mistake does not cascade); other entries and the cross-references between them are still checked.
 */
final class ConfigBinder {

    private static final String CIDR = "CIDR blocks such as \"192.168.10.0/24\"";
    private static final Duration MIN_TIMEOUT = Duration.ofMillis(1);

    /**
     * A preset: endpoint URLs and Microsoft identity platform settings. {@code graph} (the cloud's Microsoft Graph
     * host) is validated here and kept for the Graph upstream; {@code resource} is the v1.0 resource of a cloud
     * whose password grant needs it (21Vianet).
     */
    record Preset(String name, Map<Protocol, String> urls, Optional<String> authority, Optional<String> tenant,
                  boolean appOnly, Map<String, List<String>> scopes, Optional<URI> graph, Optional<String> resource) { }

    private enum AuthType { OAUTH2, PASSWORD }

    private final Config mailproxy;
    private final Config reference;
    private final String source;
    private final List<ConfigException> errors;
    private final Node root;
    private final ConfigObject templates;
    /** Entries that failed to bind: references to them are not reported again as missing. */
    private final Set<String> broken = new HashSet<>();
    /** The node each bound listener came from, in the same order as the listeners. */
    private final List<Node> listenerNodes = new ArrayList<>();

    ConfigBinder(Config mailproxy, Config reference, String source, List<ConfigException> errors) {
        this.mailproxy = mailproxy;
        this.reference = reference;
        this.source = source;
        this.errors = errors;
        this.root = new Node(mailproxy, mailproxy, List.of("mailproxy"), mailproxy.root().origin(), source);
        this.templates = mailproxy.hasPath("templates") && mailproxy.getValue("templates").valueType()
                == ConfigValueType.OBJECT ? mailproxy.getObject("templates") : reference.getObject("templates");
    }

    MailproxyConfig bind() {
        new SchemaCheck(templates, source, errors::add).checkRoot(mailproxy.root(), reference.root());

        Path stateDir = attempt(() -> path(root, "state-dir"), Path.of("state"));
        Map<String, Preset> presets = section("presets", this::preset);
        List<ListenerConfig> listeners = listeners();
        Map<String, UpstreamConfig> upstreams = section("upstreams", (n, name) -> upstream(n, name, presets));
        Map<String, OAuth2ProviderConfig> oauth2 = section("oauth2", (n, name) -> oauth2(n, name, presets));
        Map<String, AccountConfig> accounts = section("accounts", this::account);
        Map<String, ClientConfig> clients = section("clients", this::client);
        AdminConfig admin = attempt(() -> admin(root.child("admin")), new AdminConfig(false, "127.0.0.1", 0));
        LimitsConfig limits = attempt(() -> limits(root.child("limits")),
                new LimitsConfig(2000, 200, Duration.ofSeconds(10), 2));

        crossCheck(listeners, upstreams, oauth2, accounts, clients, admin, limits, presets);
        return new MailproxyConfig(source, stateDir, listeners, upstreams, oauth2, accounts, clients, admin, limits,
                mailproxy);
    }

    // ---- sections ----

    private interface EntryBinder<T> {
        T bind(Node node, String name);
    }

    private <T> Map<String, T> section(String section, EntryBinder<T> binder) {
        Map<String, T> out = new LinkedHashMap<>();
        if (!mailproxy.hasPath(section) || mailproxy.getValue(section).valueType() != ConfigValueType.OBJECT) {
            return out; // reported by the schema check
        }
        ConfigObject template = templates.get(SchemaCheck.MAP_SECTIONS.get(section)) instanceof ConfigObject t
                ? t : null;
        for (Map.Entry<String, ConfigValue> e : mailproxy.getObject(section).entrySet()) {
            if (!(e.getValue() instanceof ConfigObject entry) || template == null) {
                broken.add(section + "/" + e.getKey());
                continue;
            }
            Node node = new Node(entry.withFallback(template).toConfig(), entry.toConfig(),
                    List.of("mailproxy", section, e.getKey()), entry.origin(), source);
            try {
                out.put(e.getKey(), binder.bind(node, e.getKey()));
            } catch (ConfigException ex) {
                errors.add(ex);
                broken.add(section + "/" + e.getKey());
            } catch (com.typesafe.config.ConfigException ex) {
                structural(ex);
                broken.add(section + "/" + e.getKey());
            }
        }
        return out;
    }

    private interface Step<T> {
        T get();
    }

    private <T> T attempt(Step<T> step, T fallback) {
        try {
            return step.get();
        } catch (ConfigException e) {
            errors.add(e);
            return fallback;
        } catch (com.typesafe.config.ConfigException e) {
            structural(e);
            return fallback;
        }
    }

    /**
     * A value of the wrong shape (a string where an object belongs) met while binding. The schema check has
     * reported it already with a better message; report it here only if it has not.
     */
    private void structural(com.typesafe.config.ConfigException e) {
        if (errors.isEmpty()) {
            errors.add(ConfigLoader.translate(e, source));
        }
    }

    // ---- listeners ----

    private List<ListenerConfig> listeners() {
        List<ListenerConfig> out = new ArrayList<>();
        if (!mailproxy.hasPath("listeners") || mailproxy.getValue("listeners").valueType() != ConfigValueType.LIST) {
            return out;
        }
        ConfigObject template = (ConfigObject) templates.get("listener");
        ConfigList list = mailproxy.getList("listeners");
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof ConfigObject entry)) {
                continue; // reported by the schema check
            }
            Node node = new Node(entry.withFallback(template).toConfig(), entry.toConfig(),
                    List.of("mailproxy", "listeners", "[" + i + "]"), entry.origin(), source);
            try {
                out.add(listener(node));
                listenerNodes.add(node);
            } catch (ConfigException e) {
                errors.add(e);
            } catch (com.typesafe.config.ConfigException e) {
                structural(e);
            }
        }
        return out;
    }

    private ListenerConfig listener(Node n) {
        Protocol protocol = n.enumValue("protocol", Protocol.class);
        String bind = n.string("bind", "an IP address such as 127.0.0.1, ::1 or 0.0.0.0");
        if (!bind.equalsIgnoreCase("localhost") && ConfigLoader.ipLiteral(bind).isEmpty()) {
            throw n.error("bind", "expected an IP address such as 127.0.0.1, ::1 or 0.0.0.0 (or localhost), not \""
                    + bind + "\"");
        }
        int port = n.integer("port", 0, 65535, "a TCP port 1-65535 (0 picks a free port)");
        Optional<String> client = n.optString("client", "the login name of a client (a key of clients)");
        List<Cidr> allowFrom = new ArrayList<>();
        for (String block : n.stringList("allow-from", CIDR)) {
            try {
                allowFrom.add(Cidr.parse(block.trim()));
            } catch (IllegalArgumentException e) {
                throw n.error("allow-from", "expected " + CIDR + "; " + e.getMessage());
            }
        }
        Optional<ListenerTls> tls = Optional.empty();
        if (n.userHas("tls")) {
            Node t = n.child("tls");
            ListenerTls.Mode mode = t.enumValue("mode", ListenerTls.Mode.class);
            Path cert = path(t, "cert-file");
            Path key = path(t, "key-file");
            tls = Optional.of(new ListenerTls(mode, cert, key));
        }
        Optional<ProxyProtocolConfig> proxyProtocol = Optional.empty();
        if (n.userHas("proxy-protocol")) {
            proxyProtocol = Optional.of(proxyProtocol(n.child("proxy-protocol")));
        }
        boolean loopback = ConfigLoader.isLoopback(bind);
        boolean implicitTls = tls.map(t -> t.mode() == ListenerTls.Mode.IMPLICIT).orElse(false);
        if (!loopback && !implicitTls && allowFrom.isEmpty()) {
            throw n.error("bind", "a " + (tls.isPresent() ? "STARTTLS (plaintext until the client upgrades)"
                    : "plaintext") + " listener on " + bind + " would be open to every host; expected "
                    + "bind = \"127.0.0.1\", or allow-from = [...] naming the networks that may connect, or local "
                    + "tls { mode = implicit, cert-file = ..., key-file = ... }");
        }
        if (client.isPresent() && !loopback && allowFrom.isEmpty()) {
            throw n.error("client", "a fixed-client listener on " + bind + " lets anyone who connects act as "
                    + client.get() + " without a password; expected allow-from = [...] naming the networks that may"
                    + " connect, or bind = \"127.0.0.1\"");
        }
        return new ListenerConfig(protocol, bind, port, client, allowFrom, tls, proxyProtocol);
    }

    private static ProxyProtocolConfig proxyProtocol(Node p) {
        List<Cidr> trusted = new ArrayList<>();
        for (String block : p.stringList("trusted", CIDR)) {
            try {
                trusted.add(Cidr.parse(block.trim()));
            } catch (IllegalArgumentException e) {
                throw p.error("trusted", "expected " + CIDR + "; " + e.getMessage());
            }
        }
        if (trusted.isEmpty()) {
            throw p.error("trusted", "expected the addresses of the load balancers that send the PROXY header, e.g."
                    + " [\"10.0.0.5/32\"] (remove proxy-protocol for a listener without one)");
        }
        Duration timeout = p.duration("header-timeout", Duration.ofMillis(100));
        if (timeout.compareTo(Duration.ofMinutes(1)) > 0) {
            throw p.error("header-timeout", "expected a duration of at most 1m, not " + timeout);
        }
        return new ProxyProtocolConfig(trusted, timeout);
    }

    // ---- presets, upstreams, oauth2 ----

    private Preset preset(Node n, String name) {
        Map<Protocol, String> urls = new EnumMap<>(Protocol.class);
        for (Protocol p : Protocol.values()) {
            n.optString(p.configName(), "an upstream URL").ifPresent(u -> urls.put(p, u));
        }
        Map<String, List<String>> scopes = new LinkedHashMap<>();
        for (String s : List.of("imap", "pop3", "smtp", "app")) {
            scopes.put(s, n.stringList("scopes." + s, "scopes"));
        }
        Optional<URI> graph = Optional.ofNullable(endpoint(n, "graph", null, null));
        if (graph.isPresent() && !"https".equalsIgnoreCase(graph.get().getScheme())) {
            throw n.error("graph", "expected an https:// URL such as \"https://graph.microsoft.com\", not \""
                    + graph.get() + "\"");
        }
        return new Preset(name, urls, n.optString("authority", "an https:// URL"), n.optString("tenant", "a tenant"),
                n.bool("app-only"), scopes, graph, n.optString("resource", "a v1.0 resource URI"));
    }

    private Optional<Preset> presetRef(Node n, Map<String, Preset> presets) {
        Optional<String> name = n.optString("preset", "a preset name");
        if (name.isEmpty()) {
            return Optional.empty();
        }
        Preset p = presets.get(name.get());
        if (p == null) {
            throw n.error("preset", "expected one of " + String.join(", ", presets.keySet()) + ", not \""
                    + name.get() + "\"");
        }
        return Optional.of(p);
    }

    private UpstreamConfig upstream(Node n, String name, Map<String, Preset> presets) {
        Optional<Preset> preset = presetRef(n, presets);
        Map<Protocol, UpstreamEndpoint> endpoints = new EnumMap<>(Protocol.class);
        for (Protocol p : Protocol.values()) {
            String key = p.configName();
            Optional<String> url = n.optString(key, "an upstream URL");
            String text = url.orElseGet(() -> preset.map(ps -> ps.urls().get(p)).orElse(null));
            if (text == null) {
                continue;
            }
            UpstreamEndpoint endpoint;
            try {
                endpoint = UpstreamEndpoint.parse(text);
            } catch (IllegalArgumentException e) {
                throw url.isPresent() ? n.error(key, e.getMessage() + "; expected " + schemes(p))
                        : n.error("preset", "preset " + preset.get().name() + ": " + e.getMessage());
            }
            if (endpoint.protocol() != p) {
                throw n.error(key, "expected " + schemes(p) + " for " + key + ", not " + text);
            }
            endpoints.put(p, endpoint);
        }
        if (endpoints.isEmpty()) {
            throw n.error("", "an upstream needs endpoints; expected preset = office365 (or outlook), or at least one"
                    + " of imap = \"imaps://...\", pop3 = \"pop3s://...\", smtp = \"smtp+starttls://...\"");
        }
        return new UpstreamConfig(name, preset.map(Preset::name), endpoints, optPath(n, "ca-file"),
                n.duration("connect-timeout", MIN_TIMEOUT), n.duration("handshake-timeout", MIN_TIMEOUT),
                n.duration("reply-timeout", MIN_TIMEOUT));
    }

    private static String schemes(Protocol p) {
        String s = p.configName();
        return s + "s://host:port or " + s + "+starttls://host:port";
    }

    private OAuth2ProviderConfig oauth2(Node n, String name, Map<String, Preset> presets) {
        Optional<Preset> preset = presetRef(n, presets);
        Optional<String> tenant = n.optString("tenant", "a tenant domain or GUID");
        if (preset.isEmpty() && tenant.isPresent()) {
            preset = Optional.ofNullable(presets.get("office365"));
        }
        if (tenant.isEmpty() && preset.isPresent()) {
            tenant = preset.get().tenant();
        }
        Optional<String> authority = preset.flatMap(Preset::authority).map(a -> a.replaceAll("/+$", ""));
        if (preset.isPresent() && tenant.isEmpty() && !n.isSet("token-endpoint")) {
            throw n.missing("tenant", "tenant = \"contoso.onmicrosoft.com\" (your directory's domain or id)");
        }
        String base = authority.isPresent() && tenant.isPresent()
                ? authority.get() + "/" + tenant.get() + "/oauth2/v2.0/" : null;
        URI token = endpoint(n, "token-endpoint", base == null ? null : base + "token", null);
        if (token == null) {
            throw n.missing("token-endpoint", "tenant = \"...\" for Microsoft, or token-endpoint = \"https://...\""
                    + " for another identity provider");
        }
        String derivedBase = token.toString().endsWith("/token")
                ? token.toString().substring(0, token.toString().length() - "token".length()) : null;
        String deviceDefault = base != null ? base + "devicecode" : derivedBase == null ? null : derivedBase
                + "devicecode";
        String authorizeDefault = base != null ? base + "authorize" : derivedBase == null ? null : derivedBase
                + "authorize";
        URI device = endpoint(n, "device-authorization-endpoint", deviceDefault, null);
        URI authorize = endpoint(n, "authorization-endpoint", authorizeDefault, null);
        if (device == null) {
            throw n.missing("device-authorization-endpoint", "an https:// URL (it cannot be derived from a "
                    + "token-endpoint that does not end in /token)");
        }
        if (authorize == null) {
            throw n.missing("authorization-endpoint", "an https:// URL (it cannot be derived from a "
                    + "token-endpoint that does not end in /token)");
        }
        String clientId = n.string("client-id", "the application (client) id of the app registration");
        Optional<SecretRef> secret = n.optString("client-secret", "a secret or \"secret:NAME\"").map(SecretRef::parse);
        Optional<Path> cert = optPath(n, "certificate-file");
        Optional<Path> key = optPath(n, "private-key-file");
        if (cert.isPresent() != key.isPresent()) {
            String missing = cert.isPresent() ? "private-key-file" : "certificate-file";
            throw n.missing(missing, "certificate-file and private-key-file together (PEM) for private_key_jwt");
        }
        Optional<URI> redirect = Optional.ofNullable(endpoint(n, "redirect-uri", null, "localhost"));
        Preset scopesFrom = preset.orElse(presets.get("office365"));
        Map<String, List<String>> scopes = new LinkedHashMap<>();
        for (String s : List.of("imap", "pop3", "smtp", "app")) {
            List<String> own = n.isSet("scopes." + s) ? n.stringList("scopes." + s, "scope strings") : null;
            scopes.put(s, own != null ? own : scopesFrom == null ? List.of() : scopesFrom.scopes().get(s));
        }
        return new OAuth2ProviderConfig(name, tenant, token, device, authorize, clientId, secret, cert, key, redirect,
                scopes.get("imap"), scopes.get("pop3"), scopes.get("smtp"), scopes.get("app"),
                preset.flatMap(Preset::resource));
    }

    /**
     * An OAuth endpoint: https://, or http:// to a loopback address (a local test identity provider; for a
     * redirect, {@code extraLoopbackName} "localhost" too, as Microsoft registers native-app redirects).
     */
    private URI endpoint(Node n, String key, String fallback, String extraLoopbackName) {
        Optional<String> own = n.optString(key, "an https:// URL");
        String text = own.orElse(fallback);
        if (text == null) {
            return null;
        }
        String where = own.isPresent() ? key : "preset";
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw n.error(where, "expected an https:// URL, not \"" + text + "\"");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw n.error(where, "expected an https:// URL with a host, not \"" + text + "\"");
        }
        boolean loopback = ConfigLoader.ipLiteral(host).map(InetAddress::isLoopbackAddress).orElse(false)
                || (extraLoopbackName != null && host.equalsIgnoreCase(extraLoopbackName));
        if (scheme.equals("https") || (scheme.equals("http") && loopback)) {
            return uri;
        }
        throw n.error(where, "expected an https:// URL (http:// only to a loopback address, 127.0.0.0/8 or ::1), "
                + "not \"" + text + "\"");
    }

    // ---- accounts and clients ----

    private AccountConfig account(Node n, String name) {
        String mailbox = n.optString("mailbox", "the mailbox address").orElse(name);
        checkAddress(n, n.userHas("mailbox") ? "mailbox" : "", mailbox);
        String upstream = n.string("upstream", "the name of an upstream (a key of upstreams)");
        Node a = n.child("auth");
        AuthType type = a.enumValue("type", AuthType.class);
        AuthConfig auth;
        if (type == AuthType.OAUTH2) {
            String provider = a.string("provider", "the name of an oauth2 provider (a key of oauth2)");
            AuthConfig.Grant grant = a.enumValue("grant", AuthConfig.Grant.class);
            Optional<String> principal = a.optString("principal", "the address whose consent is used");
            principal.ifPresent(p -> checkAddress(a, "principal", p));
            if (principal.isPresent() && grant != AuthConfig.Grant.REFRESH_TOKEN) {
                throw a.error("principal", "principal is only for grant = refresh-token (a delegate's consent); "
                        + "expected no principal with grant = " + Node.configName(grant));
            }
            Optional<String> username = a.optString("username", "a login name");
            Optional<SecretRef> password = a.optString("password", "a password or \"secret:NAME\"")
                    .map(SecretRef::parse);
            if (grant == AuthConfig.Grant.PASSWORD) {
                if (password.isEmpty()) {
                    throw a.missing("password", "password = \"secret:NAME\" for grant = password (ROPC)");
                }
            } else if (a.userHas("username") || a.userHas("password")) {
                throw a.error(a.userHas("username") ? "username" : "password", "username and password are only for"
                        + " grant = password (ROPC); expected none with grant = " + Node.configName(grant));
            }
            auth = new AuthConfig.OAuth2(provider, grant, principal, username, password);
        } else {
            for (String k : List.of("provider", "grant", "principal")) {
                if (a.userHas(k)) {
                    throw a.error(k, k + " is only for type = oauth2; expected type = oauth2 or no " + k);
                }
            }
            Optional<String> username = a.optString("username", "a login name");
            SecretRef password = SecretRef.parse(a.string("password", "password = \"secret:NAME\" (or a literal)"));
            auth = new AuthConfig.Password(username, password);
        }
        String from = n.optString("from", "an address").orElse(mailbox);
        checkAddress(n, n.userHas("from") ? "from" : "", from);
        Map<Protocol, PoolConfig> pools = new EnumMap<>(Protocol.class);
        pools.put(Protocol.IMAP, pool(n.child("pool.imap")));
        pools.put(Protocol.SMTP, pool(n.child("pool.smtp")));
        return new AccountConfig(name, mailbox, upstream, auth, from, pools);
    }

    private static void checkAddress(Node n, String key, String address) {
        for (int i = 0; i < address.length(); i++) {
            char c = address.charAt(i);
            if (c <= ' ' || c == 0x7f) {
                throw n.error(key, "expected an address without spaces or control characters");
            }
        }
    }

    private static PoolConfig pool(Node n) {
        int max = n.integer("max", 1, 1000, "a connection count 1-1000");
        int minIdle = n.integer("min-idle", 0, 1000, "a connection count 0-1000");
        if (minIdle > max) {
            throw n.error("min-idle", "expected min-idle at most max (" + max + "), not " + minIdle);
        }
        return new PoolConfig(max, minIdle, n.duration("acquire-timeout", Duration.ZERO),
                n.duration("min-token-life", Duration.ZERO), n.duration("idle-probe-after", Duration.ZERO),
                n.duration("idle-timeout", MIN_TIMEOUT), n.duration("keep-alive", MIN_TIMEOUT));
    }

    private ClientConfig client(Node n, String login) {
        checkAddress(n, "", login);
        Optional<String> hash = n.optString("password", "an Argon2id hash from ./mailproxy hash-password");
        if (hash.isPresent()) {
            try {
                PasswordHasher.memoryKiB(hash.get());
            } catch (IllegalArgumentException e) {
                // never echo the value: it may be a plaintext password put here by mistake
                throw n.error("password", "expected an Argon2id hash from ./mailproxy hash-password "
                        + "($argon2id$v=19$m=...,t=...,p=...$salt$hash); " + e.getMessage());
            }
        }
        String account = n.string("account", "the name of an account (a key of accounts)");
        Set<Protocol> protocols = new HashSet<>();
        for (String p : n.stringList("protocols", "protocols (imap, pop3, smtp)")) {
            try {
                protocols.add(Protocol.fromConfigName(p.trim()));
            } catch (IllegalArgumentException e) {
                throw n.error("protocols", "expected a list of imap, pop3, smtp, not \"" + p + "\"");
            }
        }
        if (protocols.isEmpty()) {
            throw n.error("protocols", "expected at least one of imap, pop3, smtp");
        }
        Node imap = n.child("imap");
        ClientConfig.ImapPolicy imapPolicy = new ClientConfig.ImapPolicy(imap.bool("read-only"),
                imap.stringList("folders", "mailbox names"));
        Node pop3 = n.child("pop3");
        ClientConfig.Pop3Policy.Source source = pop3.enumValue("source", ClientConfig.Pop3Policy.Source.class);
        String folder = pop3.string("folder", "a folder name such as INBOX");
        boolean onlyUnseen = pop3.bool("only-unseen");
        ClientConfig.OnDelete onDelete;
        String onDeleteText = pop3.string("on-delete", "expunge, keep, seen or \"move:FOLDER\"");
        try {
            onDelete = ClientConfig.OnDelete.parse(onDeleteText.trim());
        } catch (IllegalArgumentException e) {
            throw pop3.error("on-delete", e.getMessage());
        }
        Node smtp = n.child("smtp");
        ClientConfig.SmtpPolicy smtpPolicy = new ClientConfig.SmtpPolicy(
                smtp.enumValue("sender", ClientConfig.SmtpPolicy.Sender.class),
                smtp.enumValue("original-from", ClientConfig.SmtpPolicy.OriginalFrom.class),
                smtp.bytes("max-size"), smtp.bool("queue"));
        return new ClientConfig(login, hash, account, protocols, imapPolicy,
                new ClientConfig.Pop3Policy(source, folder, onlyUnseen, onDelete), smtpPolicy);
    }

    // ---- admin and limits ----

    private AdminConfig admin(Node n) {
        boolean enabled = n.bool("enabled");
        String bind = n.string("bind", "an IP address such as 127.0.0.1");
        if (!bind.equalsIgnoreCase("localhost") && ConfigLoader.ipLiteral(bind).isEmpty()) {
            throw n.error("bind", "expected an IP address such as 127.0.0.1 (or localhost), not \"" + bind + "\"");
        }
        int port = n.integer("port", 0, 65535, "a TCP port 1-65535 (0 picks a free port)");
        return new AdminConfig(enabled, bind, port, n.duration("request-deadline", MIN_TIMEOUT));
    }

    private static LimitsConfig limits(Node n) {
        int maxConnections = n.integer("max-connections", 1, 1_000_000, "a connection count 1-1000000");
        int maxUnauth = n.integer("max-unauthenticated", 1, 1_000_000, "a connection count 1-1000000");
        if (maxUnauth > maxConnections) {
            throw n.error("max-unauthenticated", "expected at most max-connections (" + maxConnections + "), not "
                    + maxUnauth);
        }
        Duration failureDelay = n.duration("login-failure-delay", Duration.ofMillis(10));
        if (failureDelay.compareTo(Duration.ofMinutes(1)) > 0) {
            throw n.error("login-failure-delay", "expected at most 1m (a penalised client would wait that long to"
                    + " get in again after an attack stops), not " + failureDelay.toSeconds() + "s");
        }
        return new LimitsConfig(maxConnections, maxUnauth, n.duration("shutdown-grace", Duration.ZERO),
                n.integer("argon2-concurrency", 1, 64, "a thread count 1-64"),
                n.integer("max-unauthenticated-per-address", 1, 1_000_000, "a connection count 1-1000000"),
                n.integer("max-fixed-client-per-address", 1, 1_000_000, "a connection count 1-1000000"),
                failureDelay, n.integer("max-login-failures", 1, 100, "a count 1-100"));
    }

    // ---- references between entries ----

    private void crossCheck(List<ListenerConfig> listeners, Map<String, UpstreamConfig> upstreams,
                            Map<String, OAuth2ProviderConfig> oauth2, Map<String, AccountConfig> accounts,
                            Map<String, ClientConfig> clients, AdminConfig admin, LimitsConfig limits,
                            Map<String, Preset> presets) {
        Set<String> fixedClients = new HashSet<>();
        List<String> seenSockets = new ArrayList<>();
        List<InetAddress> seenAddresses = new ArrayList<>();
        List<Integer> seenPorts = new ArrayList<>();
        for (int i = 0; i < listeners.size(); i++) {
            ListenerConfig l = listeners.get(i);
            Node n = listenerNodes.get(i);
            l.client().ifPresent(fixedClients::add);
            if (l.client().isPresent()) {
                ClientConfig c = clients.get(l.client().get());
                if (c == null) {
                    if (!broken.contains("clients/" + l.client().get())) {
                        errors.add(n.error("client", "no client \"" + l.client().get() + "\"; expected a key of "
                                + "clients (" + String.join(", ", clients.keySet()) + ")"));
                    }
                } else if (!c.allows(l.protocol())) {
                    errors.add(n.error("client", "client " + c.login() + " may not use " + l.protocol().configName()
                            + "; expected a client whose protocols include " + l.protocol().configName()));
                }
            }
            if (l.port() != 0) {
                String clash = clash(l.bind(), l.port(), seenAddresses, seenPorts, seenSockets);
                if (clash != null) {
                    errors.add(n.error("port", "port " + l.port() + " on " + l.bind() + " is already used by "
                            + clash + "; expected a different port or bind address"));
                }
                remember(l.bind(), l.port(), l.describe(), seenAddresses, seenPorts, seenSockets);
            }
        }
        if (admin.enabled() && admin.port() != 0) {
            String clash = clash(admin.bind(), admin.port(), seenAddresses, seenPorts, seenSockets);
            if (clash != null) {
                errors.add(root.child("admin").error("port", "port " + admin.port() + " on " + admin.bind()
                        + " is already used by " + clash + "; expected a different port or bind address"));
            }
        }

        int maxMemoryKiB = 0;
        for (ClientConfig c : clients.values()) {
            Node n = entryNode("clients", c.login());
            if (c.passwordHash().isEmpty() && !fixedClients.contains(c.login())) {
                errors.add(n.missing("password", "an Argon2id hash from ./mailproxy hash-password (only a "
                        + "listener's fixed client may have none)"));
            }
            if (c.passwordHash().isPresent()) {
                maxMemoryKiB = Math.max(maxMemoryKiB, PasswordHasher.memoryKiB(c.passwordHash().get()));
            }
            AccountConfig account = accounts.get(c.account());
            if (account == null) {
                if (!broken.contains("accounts/" + c.account())) {
                    errors.add(n.error("account", "no account \"" + c.account() + "\"; expected a key of accounts ("
                            + String.join(", ", accounts.keySet()) + ")"));
                }
                continue;
            }
            UpstreamConfig upstream = upstreams.get(account.upstream());
            if (upstream == null) {
                continue; // reported at the account
            }
            for (Protocol p : Protocol.values()) {
                if (!c.allows(p)) {
                    continue;
                }
                Protocol needed = p == Protocol.POP3 && c.pop3().source() == ClientConfig.Pop3Policy.Source.IMAP
                        ? Protocol.IMAP : p;
                if (upstream.endpoint(needed).isEmpty()) {
                    errors.add(n.error("protocols", "client may use " + p.configName() + " but upstream "
                            + upstream.name() + " of account " + account.name() + " has no " + needed.configName()
                            + " endpoint; expected " + needed.configName() + " = \"" + schemes(needed)
                            + "\" in upstreams." + upstream.name() + (needed != p ? " (pop3.source = imap)" : "")
                            + ", or " + p.configName() + " removed from protocols"));
                }
            }
        }
        long heapKiB = Runtime.getRuntime().maxMemory() / 1024;
        if ((long) maxMemoryKiB * limits.argon2Concurrency() > heapKiB / 4) {
            errors.add(root.child("limits").error("argon2-concurrency", "Argon2 needs " + maxMemoryKiB
                    + " KiB per run (the largest m in clients) and " + limits.argon2Concurrency()
                    + " runs at once exceed a quarter of the " + heapKiB / 1024 + " MiB heap; expected a lower"
                    + " argon2-concurrency, hashes with a smaller m, or a larger -Xmx"));
        }

        for (AccountConfig a : accounts.values()) {
            Node n = entryNode("accounts", a.name());
            if (!upstreams.containsKey(a.upstream()) && !broken.contains("upstreams/" + a.upstream())) {
                errors.add(n.error("upstream", "no upstream \"" + a.upstream() + "\"; expected a key of upstreams ("
                        + String.join(", ", upstreams.keySet()) + ")"));
            }
            if (a.auth() instanceof AuthConfig.OAuth2 o) {
                Node auth = n.child("auth");
                OAuth2ProviderConfig provider = oauth2.get(o.provider());
                if (provider == null) {
                    if (!broken.contains("oauth2/" + o.provider())) {
                        errors.add(auth.error("provider", "no oauth2 provider \"" + o.provider() + "\"; expected a "
                                + "key of oauth2 (" + String.join(", ", oauth2.keySet()) + ")"));
                    }
                    continue;
                }
                if (o.grant() == AuthConfig.Grant.CLIENT_CREDENTIALS) {
                    if (provider.clientSecret().isEmpty() && provider.certificateFile().isEmpty()) {
                        errors.add(auth.error("grant", "grant = client-credentials needs a confidential client; "
                                + "expected client-secret, or certificate-file and private-key-file, in oauth2."
                                + provider.name()));
                    }
                    boolean appOnly = presetOf(provider.name()).map(p -> presets.get(p))
                            .map(Preset::appOnly).orElse(true);
                    if (!appOnly || provider.appScopes().isEmpty()) {
                        errors.add(auth.error("grant", "oauth2." + provider.name() + " offers no app-only access "
                                + "(personal Microsoft accounts have none); expected grant = refresh-token"));
                    }
                }
            }
        }
    }

    private Optional<String> presetOf(String provider) {
        Node n = entryNode("oauth2", provider);
        Optional<String> preset = n.optString("preset", "a preset");
        if (preset.isEmpty() && n.isSet("tenant")) {
            return Optional.of("office365");
        }
        return preset;
    }

    private Node entryNode(String section, String name) {
        ConfigObject entry = (ConfigObject) mailproxy.getObject(section).get(name);
        ConfigObject template = (ConfigObject) templates.get(SchemaCheck.MAP_SECTIONS.get(section));
        return new Node(entry.withFallback(template).toConfig(), entry.toConfig(), List.of("mailproxy", section, name),
                entry.origin(), source);
    }

    /** A socket clashes with one bound to the same port on the same address, or on a wildcard covering it. */
    private static String clash(String bind, int port, List<InetAddress> addresses, List<Integer> ports,
                                List<String> names) {
        InetAddress a = address(bind);
        for (int i = 0; i < ports.size(); i++) {
            if (ports.get(i) != port) {
                continue;
            }
            InetAddress b = addresses.get(i);
            if (a.equals(b) || covers(a, b) || covers(b, a)) {
                return names.get(i);
            }
        }
        return null;
    }

    /** A wildcard covers its own family; the IPv6 wildcard is dual-stack on Linux and covers IPv4 too. */
    private static boolean covers(InetAddress wildcard, InetAddress other) {
        return wildcard.isAnyLocalAddress()
                && (wildcard instanceof java.net.Inet6Address || wildcard.getClass() == other.getClass());
    }

    private static void remember(String bind, int port, String name, List<InetAddress> addresses,
                                 List<Integer> ports, List<String> names) {
        addresses.add(address(bind));
        ports.add(port);
        names.add(name);
    }

    private static InetAddress address(String bind) {
        return ConfigLoader.ipLiteral(bind).orElse(InetAddress.getLoopbackAddress());
    }

    // ---- paths ----

    private static Path path(Node n, String key) {
        String text = n.string(key, "a file path");
        try {
            return Path.of(text);
        } catch (InvalidPathException e) {
            throw n.error(key, "expected a file path, not \"" + text + "\"");
        }
    }

    private static Optional<Path> optPath(Node n, String key) {
        return n.isSet(key) ? Optional.of(path(n, key)) : Optional.empty();
    }
}
