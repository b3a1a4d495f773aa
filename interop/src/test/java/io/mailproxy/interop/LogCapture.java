package io.mailproxy.interop;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Keeps the proxy's recent log lines (io.mailproxy at INFO and above, the last few thousand) so a check can assert
 * that a fault left "a log line that says what happened", and that no secret reached the log.
 */
final class LogCapture extends AppenderBase<ILoggingEvent> {

    private static final int MAX = 5000;
    private final Deque<String> lines = new ArrayDeque<>();
    private long count;

    static LogCapture install() {
        LoggerContext ctx = (LoggerContext) LoggerFactory.getILoggerFactory();
        LogCapture c = new LogCapture();
        c.setContext(ctx);
        c.setName("interop-capture");
        c.start();
        Logger root = ctx.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.addAppender(c);
        return c;
    }

    @Override
    protected synchronized void append(ILoggingEvent e) {
        if (!e.getLoggerName().startsWith("io.mailproxy")) {
            return;
        }
        StringBuilder b = new StringBuilder(e.getLevel().toString()).append(' ').append(e.getLoggerName())
                .append(" - ").append(e.getFormattedMessage());
        if (e.getThrowableProxy() != null) {
            b.append(" | ").append(e.getThrowableProxy().getClassName()).append(": ")
                    .append(e.getThrowableProxy().getMessage());
        }
        lines.addLast(b.toString());
        count++;
        if (lines.size() > MAX) {
            lines.removeFirst();
        }
    }

    /** A position to read from later. */
    synchronized long mark() {
        return count;
    }

    /** Lines logged since {@code mark} (as many as are still kept). */
    synchronized List<String> since(long mark) {
        int n = (int) Math.min(lines.size(), count - mark);
        List<String> all = new ArrayList<>(lines);
        return all.subList(all.size() - n, all.size());
    }

    synchronized List<String> all() {
        return new ArrayList<>(lines);
    }
}
