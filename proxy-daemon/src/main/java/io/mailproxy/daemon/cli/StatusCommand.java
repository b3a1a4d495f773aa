package io.mailproxy.daemon.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code mailproxy status}: the running daemon's sessions, pools and token expiries, through its control socket. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show the running daemon's sessions, pools, accounts and token expiries (through its control "
                + "socket in state-dir). Exit 1 when no daemon runs.")
public final class StatusCommand implements Callable<Integer> {

    @Mixin
    ConfigOption config;

    @Option(names = "--json", description = "Print the report as JSON (the same as the admin endpoint's /status).")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        return StatusView.print(config.load().stateDir(), json, out, err);
    }
}
