package io.mailproxy.core.config;

/**
 * A secret in config: a literal, or {@code secret:NAME} looked up in the encrypted secret store. Never printed.
 */
public sealed interface SecretRef {

    record Literal(String value) implements SecretRef {
        @Override
        public String toString() {
            return "Literal[****]";
        }
    }

    record Stored(String name) implements SecretRef {
        @Override
        public String toString() {
            return "secret:" + name;
        }
    }

    static SecretRef parse(String text) {
        return text.startsWith("secret:") ? new Stored(text.substring("secret:".length())) : new Literal(text);
    }
}
