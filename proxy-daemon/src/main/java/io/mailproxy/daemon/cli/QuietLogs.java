package io.mailproxy.daemon.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Raises the level of some loggers for the length of a command and puts them back afterwards (a command's run is
 * not the daemon's: its log lines would only repeat what the command prints). Does nothing where SLF4J is not bound
 * to Logback.
 */
final class QuietLogs implements AutoCloseable {

    private record Saved(Logger logger, Level level) { }

    private final List<Saved> saved = new ArrayList<>();

    private QuietLogs() {
    }

    /** Only events at {@code threshold} or above pass the named loggers (and their children) until closed. */
    static QuietLogs below(org.slf4j.event.Level threshold, String... names) {
        QuietLogs quiet = new QuietLogs();
        for (String name : names) {
            if (LoggerFactory.getLogger(name) instanceof Logger logger) {
                quiet.saved.add(new Saved(logger, logger.getLevel()));
                logger.setLevel(Level.toLevel(threshold.toString()));
            }
        }
        return quiet;
    }

    @Override
    public void close() {
        for (Saved s : saved) {
            s.logger().setLevel(s.level());
        }
    }
}
