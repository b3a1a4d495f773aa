package io.mailproxy.daemon.cli;

import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** {@code --config FILE}, shared by every subcommand (a picocli mixin). */
public final class ConfigOption {

    @Option(names = {"-c", "--config"}, paramLabel = "FILE",
            description = "Configuration file (default: $MAILPROXY_CONFIG, else /etc/mailproxy/mailproxy.conf "
                    + "when it exists, else conf/mailproxy.conf).")
    Path file;

    public Path resolve() {
        return ConfigLoader.resolvePath(Optional.ofNullable(file), System.getenv());
    }

    /** @throws io.mailproxy.core.config.ConfigException on a bad config (exit 2) */
    public MailproxyConfig load() {
        return ConfigLoader.load(resolve());
    }
}
