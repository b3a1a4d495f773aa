package io.mailproxy.core.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigObject;
import io.mailproxy.core.AdminCommand;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.identity.PasswordHasher;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Checks the references between bound entries: a listener's fixed client, a client's account, an account's upstream
 * and oauth2 provider, whether an upstream has the endpoints a client's protocols need, ports that two sockets would
 * share, and the memory Argon2 may take at once. A reference to an entry that failed to bind ({@code broken}) is not
 * reported again.
 */
final class ReferenceCheck {

    private final Config mailproxy;
    private final ConfigObject templates;
    private final String source;
    private final Node root;
    private final Set<String> broken;
    private final List<ConfigException> errors;

    ReferenceCheck(Config mailproxy, ConfigObject templates, String source, Node root, Set<String> broken,
                   List<ConfigException> errors) {
        this.mailproxy = mailproxy;
        this.templates = templates;
        this.source = source;
        this.root = root;
        this.broken = broken;
        this.errors = errors;
    }

    /** {@code listenerNodes}: the node each listener came from, in the same order. */
    void check(List<ListenerConfig> listeners, List<Node> listenerNodes, Map<String, UpstreamConfig> upstreams,
               Map<String, OAuth2ProviderConfig> oauth2, Map<String, AccountConfig> accounts,
               Map<String, ClientConfig> clients, AdminConfig admin, LimitsConfig limits,
               Map<String, Preset> presets) {
        Set<String> fixedClients = listeners(listeners, listenerNodes, clients, admin);
        clients(clients, fixedClients, accounts, upstreams, oauth2, limits);
        accounts(accounts, upstreams, oauth2, presets);
    }

    /** Fixed clients and clashing ports; returns the logins that are some listener's fixed client. */
    private Set<String> listeners(List<ListenerConfig> listeners, List<Node> listenerNodes,
                                  Map<String, ClientConfig> clients, AdminConfig admin) {
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
        return fixedClients;
    }

    /** Passwords, accounts, the endpoints each client's protocols need, and Argon2's memory. */
    private void clients(Map<String, ClientConfig> clients, Set<String> fixedClients,
                         Map<String, AccountConfig> accounts, Map<String, UpstreamConfig> upstreams,
                         Map<String, OAuth2ProviderConfig> oauth2, LimitsConfig limits) {
        int maxMemoryKiB = 0;
        Set<String> graphChecked = new HashSet<>();
        for (ClientConfig c : clients.values()) {
            Node n = entryNode("clients", c.login());
            if (c.passwordHash().isEmpty() && !fixedClients.contains(c.login())) {
                errors.add(n.missing("password", "an Argon2id hash from " + AdminCommand.of("hash-password") + " (only a "
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
                if (c.allows(p)) {
                    route(n, c, p, account, upstream);
                }
            }
            if (c.usesGraph(upstream)) {
                graphAccount(account, upstream, oauth2, graphChecked);
            }
        }
        long heapKiB = Runtime.getRuntime().maxMemory() / 1024;
        if ((long) maxMemoryKiB * limits.argon2Concurrency() > heapKiB / 4) {
            errors.add(root.child("limits").error("argon2-concurrency", "Argon2 needs " + maxMemoryKiB
                    + " KiB per run (the largest m in clients) and " + limits.argon2Concurrency()
                    + " runs at once exceed a quarter of the " + heapKiB / 1024 + " MiB heap; expected a lower"
                    + " argon2-concurrency, hashes with a smaller m, or a larger -Xmx"));
        }
    }

    /**
     * Whether {@code upstream} can carry the client's protocol {@code p}: IMAP needs the imap endpoint (there is no
     * IMAP over Microsoft Graph); POP3 the pop3 endpoint, the imap one ({@code source = imap}) or Graph
     * ({@code source = graph}); SMTP the smtp endpoint or Graph, as {@code send-with} chose.
     */
    private void route(Node n, ClientConfig c, Protocol p, AccountConfig account, UpstreamConfig upstream) {
        String where = "upstream " + upstream.name() + " of account " + account.name();
        if (p == Protocol.POP3 && c.pop3().source() == ClientConfig.Pop3Policy.Source.GRAPH) {
            if (upstream.graph().isEmpty()) {
                errors.add(n.child("pop3").error("source", "pop3.source = graph but " + where + " has no Microsoft"
                        + " Graph; expected graph = \"https://graph.microsoft.com/v1.0\" (or a preset with Graph, such"
                        + " as office365) in upstreams." + upstream.name() + ", or another pop3.source"));
            }
            return;
        }
        if (p == Protocol.SMTP && upstream.sending() == UpstreamConfig.Sending.GRAPH) {
            return; // send-with = graph was checked against the upstream's Graph when it was bound
        }
        Protocol needed = p == Protocol.POP3 && c.pop3().source() == ClientConfig.Pop3Policy.Source.IMAP
                ? Protocol.IMAP : p;
        if (upstream.endpoint(needed).isPresent()) {
            return;
        }
        boolean graph = upstream.graph().isPresent();
        String expected = needed.configName() + " = \"" + UpstreamBinder.schemes(needed) + "\" in upstreams."
                + upstream.name() + (needed != p ? " (pop3.source = imap)" : "");
        if (p == Protocol.IMAP && graph) {
            errors.add(n.error("protocols", "IMAP cannot go through Microsoft Graph; " + where + " has no imap"
                    + " endpoint; expected " + expected + " (preset = office365 has both), or imap removed from"
                    + " protocols"));
        } else if (p == Protocol.SMTP) {
            errors.add(n.error("protocols", "client may use smtp but " + where + " has neither an smtp endpoint nor"
                    + " Microsoft Graph; expected " + expected + ", or graph = \"https://graph.microsoft.com/v1.0\""
                    + " (send-with = graph), or smtp removed from protocols"));
        } else {
            errors.add(n.error("protocols", "client may use " + p.configName() + " but " + where + " has no "
                    + needed.configName() + " endpoint; expected " + expected
                    + (p == Protocol.POP3 && graph ? ", or pop3.source = graph" : "") + ", or " + p.configName()
                    + " removed from protocols"));
        }
    }

    /**
     * An account some client reaches through Graph: OAuth 2.0 only, and Graph scopes for its grant (once per
     * account). A missing or broken provider is reported at the account.
     */
    private void graphAccount(AccountConfig account, UpstreamConfig upstream, Map<String, OAuth2ProviderConfig> oauth2,
                              Set<String> checked) {
        if (!checked.add(account.name())) {
            return;
        }
        Node auth = entryNode("accounts", account.name()).child("auth");
        if (!(account.auth() instanceof AuthConfig.OAuth2 o)) {
            errors.add(auth.error("type", "Microsoft Graph takes OAuth 2.0 only, and a client of account "
                    + account.name() + " uses Graph through upstream " + upstream.name() + "; expected type = oauth2"
                    + " with a provider (see docs/OFFICE365.md)"));
            return;
        }
        OAuth2ProviderConfig provider = oauth2.get(o.provider());
        if (provider == null) {
            return;
        }
        if (provider.graphScopes(o.grant(), account.delegate()).isEmpty()) {
            String key = o.grant() == AuthConfig.Grant.CLIENT_CREDENTIALS ? "graph-app"
                    : account.delegate() ? "graph-shared" : "graph";
            errors.add(auth.error("provider", "oauth2." + provider.name() + " has no Graph scopes for this account"
                    + (account.delegate() ? " (a delegate, " + o.principal().orElseThrow() + ", on another mailbox)"
                    : "") + "; expected scopes." + key + " in oauth2." + provider.name() + " (the office365 preset"
                    + " has them; personal Microsoft accounts have no shared or app-only Graph access)"));
        }
    }

    /** Upstreams and oauth2 providers, and whether a provider can serve the account's grant. */
    private void accounts(Map<String, AccountConfig> accounts, Map<String, UpstreamConfig> upstreams,
                          Map<String, OAuth2ProviderConfig> oauth2, Map<String, Preset> presets) {
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
}
