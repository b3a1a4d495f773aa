package io.mailproxy.core.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigResolver;
import com.typesafe.config.ConfigSyntax;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;
import io.mailproxy.core.Protocol;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Reads the HOCON configuration into a validated {@link MailproxyConfig}.
 *
 * <p>The user's file (with its {@code include}s) is merged over every module's {@code reference.conf} on the class
 * path and resolved, {@code ${?ENV}} substitutions included. Every problem found is reported as a
 * {@link ConfigException} naming file, line, key and what is expected; when there are several, the first is thrown
 * and the others are attached as {@linkplain Throwable#getSuppressed() suppressed} exceptions, in file order.
 *
 * <p>A secret not yet stored, a missing refresh token or an unreachable upstream is not a configuration error and
 * is not checked here.
 */
public final class ConfigLoader {

    /** Used when it exists and neither {@code --config} nor {@code $MAILPROXY_CONFIG} says otherwise. */
    public static final Path SYSTEM_CONFIG = Path.of("/etc/mailproxy/mailproxy.conf");
    /** The last resort: the example next to {@code ./mailproxy}. */
    public static final Path LOCAL_CONFIG = Path.of("conf/mailproxy.conf");
    /** Environment variable naming the configuration file. */
    public static final String CONFIG_ENV = "MAILPROXY_CONFIG";

    private ConfigLoader() {
    }

    /**
     * Loads {@code file}, its includes and the reference.conf defaults, resolving {@code ${?ENV}} from the process
     * environment.
     *
     * @throws ConfigException naming file, line, key and what is expected
     */
    public static MailproxyConfig load(Path file) {
        return load(file, System.getenv());
    }

    /** As {@link #load(Path)}, with {@code env} standing in for the process environment (tests). */
    static MailproxyConfig load(Path file, Map<String, String> env) {
        String name = file.toString();
        if (!Files.isRegularFile(file)) {
            throw new ConfigException(name, 0, null,
                    "no such file; expected a HOCON configuration file (see conf/mailproxy.conf)");
        }
        if (!Files.isReadable(file)) {
            throw new ConfigException(name, 0, null, "cannot read the file; expected it readable by this user");
        }
        Config user;
        try {
            user = ConfigFactory.parseFile(file.toFile(),
                    ConfigParseOptions.defaults().setSyntax(ConfigSyntax.CONF).setAllowMissing(false));
        } catch (com.typesafe.config.ConfigException e) {
            throw translate(e, name);
        }
        return build(user, name, env, ConfigLoader.class.getClassLoader());
    }

    /**
     * Parses configuration text (the demo, tests). Includes of relative files are not available.
     *
     * @param originDescription stands for the file name in messages, e.g. "demo"
     * @throws ConfigException naming the origin, line, key and what is expected
     */
    public static MailproxyConfig parse(String hocon, String originDescription) {
        return parse(hocon, originDescription, System.getenv());
    }

    static MailproxyConfig parse(String hocon, String originDescription, Map<String, String> env) {
        return parse(hocon, originDescription, env, ConfigLoader.class.getClassLoader());
    }

    /** With the reference.conf files {@code loader} sees (tests stand in for a frontend module). */
    static MailproxyConfig parse(String hocon, String originDescription, Map<String, String> env,
                                 ClassLoader loader) {
        Config user;
        try {
            user = ConfigFactory.parseString(hocon, ConfigParseOptions.defaults()
                    .setSyntax(ConfigSyntax.CONF).setOriginDescription(originDescription));
        } catch (com.typesafe.config.ConfigException e) {
            throw translate(e, originDescription);
        }
        return build(user, originDescription, env, loader);
    }

    /**
     * DESIGN's rule: {@code --config FILE}, else {@code $MAILPROXY_CONFIG}, else {@code /etc/mailproxy/mailproxy.conf}
     * when it exists, else {@code conf/mailproxy.conf}.
     */
    public static Path resolvePath(Optional<Path> explicit, Map<String, String> env) {
        return resolvePath(explicit, env, Files::isRegularFile);
    }

    static Path resolvePath(Optional<Path> explicit, Map<String, String> env, Predicate<Path> exists) {
        if (explicit.isPresent()) {
            return explicit.get();
        }
        String fromEnv = env.get(CONFIG_ENV);
        if (fromEnv != null && !fromEnv.isBlank()) {
            return Path.of(fromEnv);
        }
        return exists.test(SYSTEM_CONFIG) ? SYSTEM_CONFIG : LOCAL_CONFIG;
    }

    /**
     * What deserves a warning at start-up although it is allowed: a plaintext listener reachable from other hosts,
     * an admin endpoint beyond loopback, an SMTP pool above Office 365's three connections per mailbox.
     */
    public static List<String> warnings(MailproxyConfig config) {
        List<String> out = new ArrayList<>();
        for (ListenerConfig l : config.listeners()) {
            if (l.encryptedFromFirstByte() || isLoopback(l.bind())) {
                continue;
            }
            String from = l.allowFrom().isEmpty() ? "any host" : l.allowFrom().toString();
            if (l.client().isPresent()) {
                out.add("listener " + l.describe() + " is plaintext and reachable from " + from
                        + ": any host there acts as client " + l.client().get() + " without a password");
            } else {
                out.add("listener " + l.describe() + " is plaintext and reachable from " + from
                        + ": passwords cross the network unencrypted");
            }
        }
        AdminConfig admin = config.admin();
        if (admin.enabled() && !isLoopback(admin.bind())) {
            out.add("admin endpoint on " + admin.bind() + ":" + admin.port()
                    + " is reachable from other hosts: /status and /metrics name accounts and clients");
        }
        for (AccountConfig a : config.accounts().values()) {
            UpstreamConfig up = config.upstreams().get(a.upstream());
            if (up == null) {
                continue;
            }
            boolean microsoft = up.endpoint(Protocol.SMTP)
                    .map(e -> e.host().endsWith(".office365.com") || e.host().endsWith(".outlook.com"))
                    .orElse(false);
            if (microsoft && a.pool(Protocol.SMTP).max() > 3) {
                out.add("account " + a.name() + ": pool.smtp.max = " + a.pool(Protocol.SMTP).max()
                        + " but Office 365 allows 3 concurrent SMTP connections per mailbox (432 4.3.2 beyond)");
            }
        }
        return out;
    }

    // ---- internals ----

    private static MailproxyConfig build(Config user, String source, Map<String, String> env, ClassLoader loader) {
        ConfigResolveOptions resolve = ConfigResolveOptions.defaults()
                .setUseSystemEnvironment(false)
                .appendResolver(new EnvResolver(env));
        Config reference;
        Config merged;
        try {
            Config unresolvedReference = ConfigFactory.defaultReferenceUnresolved(loader);
            reference = unresolvedReference.resolve(resolve);
            merged = user.withFallback(unresolvedReference).resolve(resolve);
        } catch (com.typesafe.config.ConfigException e) {
            throw translate(e, source);
        }
        List<ConfigException> errors = new ArrayList<>();
        for (Map.Entry<String, ConfigValue> e : user.root().entrySet()) {
            if (!e.getKey().equals("mailproxy")) {
                ConfigOrigin o = e.getValue().origin();
                errors.add(new ConfigException(Node.fileOf(o, source), o.lineNumber(), e.getKey(),
                        "unknown key; expected everything inside mailproxy { ... }"));
            }
        }
        if (!merged.hasPath("mailproxy") || merged.getValue("mailproxy").valueType() != ConfigValueType.OBJECT) {
            ConfigOrigin o = merged.hasPath("mailproxy") ? merged.getValue("mailproxy").origin() : user.origin();
            throw new ConfigException(Node.fileOf(o, source), o == null ? 0 : o.lineNumber(), "mailproxy",
                    "expected an object mailproxy { ... }");
        }
        ConfigBinder binder = new ConfigBinder(merged.getConfig("mailproxy"), reference.getConfig("mailproxy"),
                source, errors);
        MailproxyConfig config = binder.bind();
        if (!errors.isEmpty()) {
            errors.sort((a, b) -> {
                int c = Objects.toString(a.file(), "").compareTo(Objects.toString(b.file(), ""));
                return c != 0 ? c : Integer.compare(a.line(), b.line());
            });
            ConfigException first = errors.get(0);
            for (int i = 1; i < errors.size(); i++) {
                first.addSuppressed(errors.get(i));
            }
            throw first;
        }
        return config;
    }

    static boolean isLoopback(String bind) {
        if (bind.equalsIgnoreCase("localhost")) {
            return true;
        }
        Optional<InetAddress> a = ipLiteral(bind);
        return a.isPresent() && a.get().isLoopbackAddress();
    }

    /** Parses an IP literal without ever asking DNS. */
    static Optional<InetAddress> ipLiteral(String text) {
        String host = text.startsWith("[") && text.endsWith("]") ? text.substring(1, text.length() - 1) : text;
        if (host.isEmpty() || !host.matches("[0-9a-fA-F:.]+") || !(host.contains(":") || host.matches("[0-9.]+"))) {
            return Optional.empty();
        }
        try {
            return Optional.of(InetAddress.getByName(host));
        } catch (java.net.UnknownHostException e) {
            return Optional.empty();
        }
    }

    static ConfigException translate(com.typesafe.config.ConfigException e, String fallbackFile) {
        ConfigOrigin o = e.origin();
        String message = e.getMessage();
        if (o != null && message.startsWith(o.description() + ": ")) {
            message = message.substring(o.description().length() + 2);
        }
        String key = null;
        if (e instanceof com.typesafe.config.ConfigException.UnresolvedSubstitution) {
            message = message + "; expected the substitution to be defined (use ${?NAME} for an optional one)";
        } else if (e instanceof com.typesafe.config.ConfigException.Parse
                || e instanceof com.typesafe.config.ConfigException.IO) {
            message = message + "; expected valid HOCON";
        }
        ConfigException out = new ConfigException(Node.fileOf(o, fallbackFile), o == null ? 0 : o.lineNumber(),
                key, message);
        out.initCause(e);
        return out;
    }

    /** Supplies {@code ${NAME}} substitutions from an environment map instead of System.getenv(). */
    private static final class EnvResolver implements ConfigResolver {
        private final Map<String, String> env;
        private final ConfigResolver fallback;

        EnvResolver(Map<String, String> env) {
            this(env, null);
        }

        private EnvResolver(Map<String, String> env, ConfigResolver fallback) {
            this.env = Map.copyOf(env);
            this.fallback = fallback;
        }

        @Override
        public ConfigValue lookup(String path) {
            String value = env.get(path);
            if (value != null) {
                return ConfigValueFactory.fromAnyRef(value, "environment variable " + path);
            }
            return fallback == null ? null : fallback.lookup(path);
        }

        @Override
        public ConfigResolver withFallback(ConfigResolver other) {
            return new EnvResolver(env, fallback == null ? other : fallback.withFallback(other));
        }
    }
}
