package io.mailproxy.core.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Binds the resolved {@code mailproxy} block to records and validates it. Each entry stops at its first error (so
 * one mistake does not cascade); other entries and the cross-references between them are still checked.
 *
 * <p>This class walks the sections and collects the errors; one binder per kind of entry ({@link ListenerBinder},
 * {@link UpstreamBinder} with the presets, {@link OAuth2Binder}, {@link AccountBinder}, {@link ClientBinder}) binds
 * an entry, and {@link ReferenceCheck} checks the references between them.
 */
final class ConfigBinder {

    /** The shortest timeout a config may set. */
    static final Duration MIN_TIMEOUT = Duration.ofMillis(1);

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

        Path stateDir = attempt(() -> root.filePath("state-dir"), Path.of("state"));
        Map<String, Preset> presets = section("presets", UpstreamBinder::preset);
        List<ListenerConfig> listeners = listeners();
        Map<String, UpstreamConfig> upstreams = section("upstreams",
                (n, name) -> UpstreamBinder.upstream(n, name, presets));
        Map<String, OAuth2ProviderConfig> oauth2 = section("oauth2",
                (n, name) -> OAuth2Binder.bind(n, name, presets));
        Map<String, AccountConfig> accounts = section("accounts", AccountBinder::bind);
        Map<String, ClientConfig> clients = section("clients", ClientBinder::bind);
        AdminConfig admin = attempt(() -> admin(root.child("admin")), new AdminConfig(false, "127.0.0.1", 0));
        LimitsConfig limits = attempt(() -> limits(root.child("limits")),
                new LimitsConfig(2000, 200, Duration.ofSeconds(10), 2));

        new ReferenceCheck(mailproxy, templates, source, root, broken, errors)
                .check(listeners, listenerNodes, upstreams, oauth2, accounts, clients, admin, limits, presets);
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
                out.add(ListenerBinder.bind(node));
                listenerNodes.add(node);
            } catch (ConfigException e) {
                errors.add(e);
            } catch (com.typesafe.config.ConfigException e) {
                structural(e);
            }
        }
        return out;
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
}
