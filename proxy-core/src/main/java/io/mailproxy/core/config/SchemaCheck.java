package io.mailproxy.core.config;

import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Finds keys that no reference.conf declares, and objects where the schema has a value or the reverse.
 *
 * <p>The schema is the merged reference.conf of every module on the classpath, so a frontend that declares
 * {@code mailproxy.imap { ... }} in its own reference.conf makes those keys known. The map sections (upstreams,
 * oauth2, accounts, clients, presets) have keys the user chooses; each of their entries is checked against
 * {@code mailproxy.templates.<kind>}, as is every element of {@code listeners}. An empty object in the schema accepts
 * any keys.
 */
final class SchemaCheck {

    /** Map section name → template name. */
    static final Map<String, String> MAP_SECTIONS = Map.of(
            "upstreams", "upstream",
            "oauth2", "oauth2",
            "accounts", "account",
            "clients", "client",
            "presets", "preset");

    private final ConfigObject templates;
    private final String fallbackFile;
    private final Consumer<ConfigException> errors;

    SchemaCheck(ConfigObject templates, String fallbackFile, Consumer<ConfigException> errors) {
        this.templates = templates;
        this.fallbackFile = fallbackFile;
        this.errors = errors;
    }

    /** Checks the resolved {@code mailproxy} object against the schema's {@code mailproxy} object. */
    void checkRoot(ConfigObject actual, ConfigObject schema) {
        List<String> path = List.of("mailproxy");
        for (Map.Entry<String, ConfigValue> e : actual.entrySet()) {
            String key = e.getKey();
            ConfigValue value = e.getValue();
            List<String> keyPath = append(path, key);
            if (MAP_SECTIONS.containsKey(key)) {
                if (!isObject(value, keyPath, "an object of named entries, e.g. " + key + " { name { ... } }")) {
                    continue;
                }
                ConfigObject template = template(MAP_SECTIONS.get(key));
                for (Map.Entry<String, ConfigValue> entry : ((ConfigObject) value).entrySet()) {
                    List<String> entryPath = append(keyPath, entry.getKey());
                    if (isObject(entry.getValue(), entryPath, "an object { ... } (see templates."
                            + MAP_SECTIONS.get(key) + " in reference.conf)")) {
                        check((ConfigObject) entry.getValue(), template, entryPath);
                    }
                }
            } else if (key.equals("listeners")) {
                if (value.valueType() != ConfigValueType.LIST) {
                    error(value, keyPath, "expected a list of listener objects [ { protocol = ..., port = ... } ], not "
                            + Node.describe(value));
                    continue;
                }
                ConfigObject template = template("listener");
                ConfigList list = (ConfigList) value;
                for (int i = 0; i < list.size(); i++) {
                    List<String> itemPath = append(keyPath, "[" + i + "]");
                    if (isObject(list.get(i), itemPath, "a listener object { protocol = ..., port = ... }")) {
                        check((ConfigObject) list.get(i), template, itemPath);
                    }
                }
            } else {
                checkKey(key, value, schema, path);
            }
        }
    }

    private void check(ConfigObject actual, ConfigObject schema, List<String> path) {
        if (schema.isEmpty()) {
            return; // an open map
        }
        for (Map.Entry<String, ConfigValue> e : actual.entrySet()) {
            checkKey(e.getKey(), e.getValue(), schema, path);
        }
    }

    private void checkKey(String key, ConfigValue value, ConfigObject schema, List<String> path) {
        List<String> keyPath = append(path, key);
        ConfigValue expected = schema.get(key);
        if (expected == null) {
            error(value, keyPath, "unknown key; expected one of: " + String.join(", ", new TreeSet<>(schema.keySet())));
            return;
        }
        boolean schemaObject = expected.valueType() == ConfigValueType.OBJECT;
        boolean actualObject = value.valueType() == ConfigValueType.OBJECT;
        if (schemaObject && actualObject) {
            check((ConfigObject) value, (ConfigObject) expected, keyPath);
        } else if (schemaObject && value.valueType() != ConfigValueType.NULL) {
            Set<String> keys = ((ConfigObject) expected).keySet();
            error(value, keyPath, "expected an object" + (keys.isEmpty() ? "" : " with keys "
                    + String.join(", ", new TreeSet<>(keys))) + ", not " + Node.describe(value));
        } else if (actualObject && expected.valueType() != ConfigValueType.NULL) {
            error(value, keyPath, "expected a single value (like the default " + expected.render()
                    + "), not an object");
        }
    }

    private boolean isObject(ConfigValue value, List<String> path, String expected) {
        if (value.valueType() == ConfigValueType.OBJECT) {
            return true;
        }
        error(value, path, "expected " + expected + ", not " + Node.describe(value));
        return false;
    }

    private ConfigObject template(String name) {
        ConfigValue t = templates.get(name);
        return t instanceof ConfigObject o ? o : templates.toConfig().root().withOnlyKey("-");
    }

    private void error(ConfigValue value, List<String> path, String expected) {
        errors.accept(new ConfigException(Node.fileOf(value.origin(), fallbackFile), value.origin().lineNumber(),
                Node.render(path), expected));
    }

    private static List<String> append(List<String> path, String key) {
        List<String> out = new ArrayList<>(path);
        out.add(key);
        return out;
    }
}
