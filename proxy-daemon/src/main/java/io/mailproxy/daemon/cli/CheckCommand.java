package io.mailproxy.daemon.cli;

import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.daemon.Daemon;
import io.mailproxy.daemon.control.ControlClient;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mailproxy check}: config, upstream logins and capabilities; exit 0 only if everything passes. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = "Validate the configuration, log in to every account's upstreams (fresh connections, not the "
                + "pool), compare their capabilities with what the configuration needs, and print a table with the "
                + "reason for each failure. Exit 0 only if all pass. Runs inside the daemon when one is running "
                + "(it alone holds the master key under systemd).")
public final class CheckCommand implements Callable<Integer> {

    @Mixin
    ConfigOption config;

    @Option(names = "--verbose", description = "Also print the log lines the checks write (each failure is already in "
            + "the table; without this option only errors that stop the check are logged)")
    boolean verbose;

    @Override
    public Integer call() throws Exception {
        if (verbose) {
            return check();
        }
        // The table says what failed and why; the same failures as WARN lines above it, once from the pool and once
        // from the connector, only repeat it (an administrator reads the table).
        try (QuietLogs quiet = QuietLogs.below(org.slf4j.event.Level.ERROR, "io.mailproxy")) {
            return check();
        }
    }

    private Integer check() throws Exception {
        MailproxyConfig cfg = config.load();
        System.out.println("configuration " + cfg.source() + ": valid (" + cfg.listeners().size() + " listeners, "
                + cfg.accounts().size() + " accounts, " + cfg.clients().size() + " clients)");
        List<String> lines = ControlClient.isRunning(cfg.stateDir())
                ? new ControlClient(cfg.stateDir()).check()
                : Daemon.check(cfg, System.getenv());
        lines.forEach(System.out::println);
        String last = lines.isEmpty() ? "" : lines.get(lines.size() - 1);
        return last.endsWith(" 0 failed") ? ExitCodes.OK : ExitCodes.RUNTIME_FAILURE;
    }
}
