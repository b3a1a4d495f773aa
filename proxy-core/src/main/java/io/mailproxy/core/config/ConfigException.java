package io.mailproxy.core.config;

/**
 * A configuration error: names the file, the line, the key and what is expected. The CLI exits with code 2.
 */
public final class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String file;
    private final int line;
    private final String key;

    public ConfigException(String file, int line, String key, String message) {
        super(format(file, line, key, message));
        this.file = file;
        this.line = line;
        this.key = key;
    }

    private static String format(String file, int line, String key, String message) {
        StringBuilder b = new StringBuilder();
        b.append(file == null ? "<config>" : file);
        if (line > 0) {
            b.append(':').append(line);
        }
        if (key != null && !key.isEmpty()) {
            b.append(": ").append(key);
        }
        return b.append(": ").append(message).toString();
    }

    public String file() {
        return file;
    }

    public int line() {
        return line;
    }

    public String key() {
        return key;
    }
}
