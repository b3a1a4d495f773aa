package io.mailproxy.daemon.cli;

import io.mailproxy.core.spi.FrontendFactory;
import io.mailproxy.core.spi.QueueAdmin;
import io.mailproxy.daemon.control.ControlClient;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code mailproxy queue list|retry|delete}: the SMTP store-and-forward queue, through the running daemon when there
 * is one, else straight on {@code <state-dir>/spool}.
 */
@Command(name = "queue", mixinStandardHelpOptions = true,
        description = "Manage the SMTP store-and-forward queue: list, retry ID|all (make due now), delete ID...")
public final class QueueCommand implements Callable<Integer> {

    @Mixin
    ConfigOption config;

    @Parameters(index = "0", paramLabel = "ACTION", description = "list, retry or delete")
    String action;

    @Parameters(index = "1..*", paramLabel = "ID", arity = "0..*", description = "message ids (retry also takes 'all')")
    List<String> ids;

    @Override
    public Integer call() throws IOException {
        Path stateDir = config.load().stateDir();
        boolean viaDaemon = ControlClient.isRunning(stateDir);
        ControlClient daemon = new ControlClient(stateDir);
        List<String> args = ids == null ? List.of() : ids;
        switch (action) {
            case "list" -> {
                List<String> lines = viaDaemon ? daemon.queueList()
                        : offline(stateDir).list().stream().map(QueueAdmin.QueuedMessage::line).toList();
                if (lines.isEmpty()) {
                    System.out.println("the queue is empty");
                }
                lines.forEach(System.out::println);
            }
            case "retry", "delete" -> {
                if (args.isEmpty()) {
                    System.err.println("mailproxy queue " + action + ": needs " + (action.equals("retry") ? "ID or all" : "ID"));
                    return ExitCodes.USAGE;
                }
                QueueAdmin queue = viaDaemon ? null : offline(stateDir);
                int failures = 0;
                for (String id : args) {
                    try {
                        if (action.equals("retry")) {
                            System.out.println(viaDaemon ? String.join("\n", daemon.queueRetry(id))
                                    : queue.retry(id) + " message(s) made due now");
                        } else {
                            if (viaDaemon) {
                                daemon.queueDelete(id);
                            } else {
                                queue.delete(id);
                            }
                            System.out.println("deleted " + id);
                        }
                    } catch (ControlClient.ControlException | IllegalArgumentException | IllegalStateException e) {
                        System.err.println("mailproxy queue " + action + " " + id + ": " + e.getMessage());
                        failures++;
                    }
                }
                return failures == 0 ? ExitCodes.OK : ExitCodes.RUNTIME_FAILURE;
            }
            default -> {
                System.err.println("mailproxy queue: unknown action '" + action + "': expected list, retry or delete");
                return ExitCodes.USAGE;
            }
        }
        return ExitCodes.OK;
    }

    /** The queue on disk, from the frontend that keeps one (SMTP's spool). */
    private static QueueAdmin offline(Path stateDir) throws IOException {
        for (FrontendFactory f : ServiceLoader.load(FrontendFactory.class)) {
            Optional<QueueAdmin> queue = f.offlineQueue(stateDir, Clock.systemUTC());
            if (queue.isPresent()) {
                return queue.get();
            }
        }
        throw new IOException("no frontend of this installation keeps a queue");
    }
}
