package io.mailproxy.core.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigOrigin;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One object of the configuration (the {@code mailproxy} block, a listener, an account...) with typed getters whose
 * errors name the file and line of the offending value, its full key and what is expected.
 *
 * <p>{@code merged} is the entry with its template's defaults; {@code anchor} is the origin of the entry as the user
 * wrote it, used when a required key is missing (a default has no line in the user's file).
 */
final class Node {

    private final Config merged;
    private final Config user;
    private final List<String> path;
    private final ConfigOrigin anchor;
    private final String fallbackFile;

    Node(Config merged, Config user, List<String> path, ConfigOrigin anchor, String fallbackFile) {
        this.merged = merged;
        this.user = user;
        this.path = List.copyOf(path);
        this.anchor = anchor;
        this.fallbackFile = fallbackFile;
    }

    Config config() {
        return merged;
    }

    List<String> path() {
        return path;
    }

    /** The full key of {@code key} (a path relative to this node), e.g. {@code mailproxy.clients."a@b".account}. */
    String key(String key) {
        List<String> parts = new ArrayList<>(path);
        if (key != null && !key.isEmpty()) {
            parts.addAll(ConfigUtil.splitPath(key));
        }
        return render(parts);
    }

    static String render(List<String> parts) {
        StringBuilder b = new StringBuilder();
        for (String part : parts) {
            if (part.startsWith("[") && b.length() > 0) {
                b.append(part); // list index
            } else {
                if (b.length() > 0) {
                    b.append('.');
                }
                b.append(ConfigUtil.joinPath(part));
            }
        }
        return b.toString();
    }

    Node child(String key) {
        Config childUser = user.hasPathOrNull(key) && user.getValue(key).valueType() == ConfigValueType.OBJECT
                ? user.getConfig(key) : ConfigFactory.empty();
        ConfigOrigin childAnchor = user.hasPath(key) ? user.getValue(key).origin() : anchor;
        List<String> childPath = new ArrayList<>(path);
        childPath.addAll(ConfigUtil.splitPath(key));
        return new Node(merged.getConfig(key), childUser, childPath, childAnchor, fallbackFile);
    }

    /** Whether the user's own entry sets {@code key} (not just the template). */
    boolean userHas(String key) {
        return user.hasPath(key);
    }

    boolean isSet(String key) {
        return merged.hasPath(key);
    }

    ConfigException error(String key, String expected) {
        ConfigOrigin origin = !key.isEmpty() && merged.hasPath(key) && user.hasPath(key)
                ? merged.getValue(key).origin() : anchor;
        return errorAt(origin, key(key), expected);
    }

    ConfigException errorAt(ConfigOrigin origin, String fullKey, String expected) {
        return new ConfigException(fileOf(origin, fallbackFile), origin == null ? 0 : origin.lineNumber(),
                fullKey, expected);
    }

    static String fileOf(ConfigOrigin origin, String fallback) {
        if (origin == null) {
            return fallback;
        }
        if (origin.filename() != null) {
            return origin.filename();
        }
        if (origin.resource() != null) {
            return origin.resource();
        }
        return fallback;
    }

    ConfigException missing(String key, String expected) {
        return error(key, "missing; expected " + expected);
    }

    // ---- typed getters ----

    private ConfigValue value(String key) {
        return merged.getValue(key);
    }

    Optional<String> optString(String key, String expected) {
        if (!merged.hasPath(key)) {
            return Optional.empty();
        }
        ConfigValue v = value(key);
        if (v.valueType() == ConfigValueType.OBJECT || v.valueType() == ConfigValueType.LIST) {
            throw error(key, "expected " + expected + ", not " + describe(v));
        }
        String s = String.valueOf(v.unwrapped());
        if (s.isBlank()) {
            throw error(key, "expected " + expected + ", not an empty string");
        }
        return Optional.of(s);
    }

    String string(String key, String expected) {
        return optString(key, expected).orElseThrow(() -> missing(key, expected));
    }

    int integer(String key, int min, int max, String expected) {
        if (!merged.hasPath(key)) {
            throw missing(key, expected);
        }
        ConfigValue v = value(key);
        Object raw = v.unwrapped();
        long n;
        if (raw instanceof Number number && (raw instanceof Integer || raw instanceof Long)) {
            n = number.longValue();
        } else if (raw instanceof String s && s.matches("-?[0-9]{1,18}")) {
            n = Long.parseLong(s);
        } else {
            throw error(key, "expected " + expected + ", not " + describe(v));
        }
        if (n < min || n > max) {
            throw error(key, "expected " + expected + ", not " + n);
        }
        return (int) n;
    }

    boolean bool(String key) {
        try {
            return merged.getBoolean(key);
        } catch (com.typesafe.config.ConfigException.Missing e) {
            throw missing(key, "true or false");
        } catch (com.typesafe.config.ConfigException e) {
            throw error(key, "expected true or false, not " + describe(value(key)));
        }
    }

    Duration duration(String key, Duration min) {
        Duration d;
        try {
            d = merged.getDuration(key);
        } catch (com.typesafe.config.ConfigException.Missing e) {
            throw missing(key, "a duration such as 10s or 5m");
        } catch (com.typesafe.config.ConfigException e) {
            throw error(key, "expected a duration such as 10s or 5m, not " + describe(value(key)));
        }
        if (d.compareTo(min) < 0) {
            throw error(key, "expected a duration of at least " + format(min) + ", not " + format(d));
        }
        return d;
    }

    long bytes(String key) {
        long n;
        try {
            n = merged.getBytes(key);
        } catch (com.typesafe.config.ConfigException.Missing e) {
            throw missing(key, "a size such as 25M");
        } catch (com.typesafe.config.ConfigException e) {
            throw error(key, "expected a size such as 25M or 0, not " + describe(value(key)));
        }
        if (n < 0) {
            throw error(key, "expected a size of 0 or more, not " + n);
        }
        return n;
    }

    /** A list of strings; a single string is accepted as a list of one. */
    List<String> stringList(String key, String expected) {
        if (!merged.hasPath(key)) {
            return List.of();
        }
        ConfigValue v = value(key);
        if (v.valueType() == ConfigValueType.STRING) {
            return List.of((String) v.unwrapped());
        }
        if (v.valueType() != ConfigValueType.LIST) {
            throw error(key, "expected a list of " + expected + ", not " + describe(v));
        }
        List<String> out = new ArrayList<>();
        for (ConfigValue item : (ConfigList) v) {
            if (item.valueType() == ConfigValueType.OBJECT || item.valueType() == ConfigValueType.LIST
                    || item.valueType() == ConfigValueType.NULL) {
                throw errorAt(item.origin(), key(key), "expected a list of " + expected + ", found " + describe(item));
            }
            out.add(String.valueOf(item.unwrapped()));
        }
        return out;
    }

    /** An enum constant written in config style (lower case, dashes), e.g. {@code client-credentials}. */
    <E extends Enum<E>> E enumValue(String key, Class<E> type) {
        String allowed = allowed(type);
        String s = string(key, "one of " + allowed);
        String constant = s.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(constant)) {
                return e;
            }
        }
        throw error(key, "expected one of " + allowed + ", not \"" + s + "\"");
    }

    Path filePath(String key) {
        String text = string(key, "a file path");
        try {
            return Path.of(text);
        } catch (InvalidPathException e) {
            throw error(key, "expected a file path, not \"" + text + "\"");
        }
    }

    Optional<Path> optFilePath(String key) {
        return isSet(key) ? Optional.of(filePath(key)) : Optional.empty();
    }

    /**
     * An OAuth endpoint: https://, or http:// to a loopback address (a local test identity provider; for a
     * redirect, {@code extraLoopbackName} "localhost" too, as Microsoft registers native-app redirects). Without
     * {@code key}, {@code fallback} (from a preset; errors then name the preset key), else null.
     */
    URI url(String key, String fallback, String extraLoopbackName) {
        Optional<String> own = optString(key, "an https:// URL");
        String text = own.orElse(fallback);
        if (text == null) {
            return null;
        }
        String where = own.isPresent() ? key : "preset";
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw error(where, "expected an https:// URL, not \"" + text + "\"");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        String host = uri.getHost();
        if (host == null || host.isEmpty()) {
            throw error(where, "expected an https:// URL with a host, not \"" + text + "\"");
        }
        boolean loopback = ConfigLoader.ipLiteral(host).map(InetAddress::isLoopbackAddress).orElse(false)
                || (extraLoopbackName != null && host.equalsIgnoreCase(extraLoopbackName));
        if (scheme.equals("https") || (scheme.equals("http") && loopback)) {
            return uri;
        }
        throw error(where, "expected an https:// URL (http:// only to a loopback address, 127.0.0.0/8 or ::1), "
                + "not \"" + text + "\"");
    }

    /** A mail address or login name ({@code address}, the value at {@code key} or the entry's own name): no spaces. */
    void checkAddress(String key, String address) {
        for (int i = 0; i < address.length(); i++) {
            char c = address.charAt(i);
            if (c <= ' ' || c == 0x7f) {
                throw error(key, "expected an address without spaces or control characters");
            }
        }
    }

    static <E extends Enum<E>> String allowed(Class<E> type) {
        return String.join(", ", Arrays.stream(type.getEnumConstants())
                .map(e -> e.name().toLowerCase(Locale.ROOT).replace('_', '-')).toList());
    }

    static String configName(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    static String describe(ConfigValue v) {
        return switch (v.valueType()) {
            case OBJECT -> "an object";
            case LIST -> "a list";
            case NULL -> "null";
            case BOOLEAN -> "the boolean " + v.unwrapped();
            case NUMBER -> "the number " + v.unwrapped();
            case STRING -> "\"" + v.unwrapped() + "\"";
        };
    }

    static String format(Duration d) {
        return d.toString().substring(2).toLowerCase(Locale.ROOT);
    }

    static Node root(ConfigObject merged, ConfigObject user, List<String> path, String fallbackFile) {
        return new Node(merged.toConfig(), user.toConfig(), path, user.origin(), fallbackFile);
    }
}
