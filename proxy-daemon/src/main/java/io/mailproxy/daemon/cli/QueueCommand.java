package io.mailproxy.daemon.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** {@code mailproxy queue list|retry|delete}: the SMTP store-and-forward queue. */
@Command(name = "queue", mixinStandardHelpOptions = true,
        description = "Manage the SMTP store-and-forward queue: list, retry ID|all, delete ID.")
public final class QueueCommand implements Callable<Integer> {

    @Mixin
    ConfigOption config;

    @Parameters(index = "0", paramLabel = "ACTION", description = "list, retry or delete")
    String action;

    @Parameters(index = "1..*", paramLabel = "ID", arity = "0..*", description = "message ids")
    List<String> ids;

    @Override
    public Integer call() {
        throw new NotAvailableYet("queue (store-and-forward)");
    }
}
