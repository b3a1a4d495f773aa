package io.mailproxy.daemon.e2e;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import java.util.stream.Collectors;
import org.slf4j.LoggerFactory;

/** Everything {@code io.mailproxy} logs while open, at the given level, as formatted text with exception texts. */
final class LogCapture implements AutoCloseable {

    private final Logger logger = (Logger) LoggerFactory.getLogger("io.mailproxy");
    private final Level previous;
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    LogCapture(Level level) {
        previous = logger.getLevel();
        appender.setContext(logger.getLoggerContext());
        appender.start();
        logger.addAppender(appender);
        logger.setLevel(level);
    }

    /** Each event: level, logger, formatted message, MDC, and every cause's class and message with stack frames. */
    List<String> lines() {
        synchronized (appender) {
            return appender.list.stream().map(LogCapture::render).collect(Collectors.toList());
        }
    }

    String text() {
        return String.join("\n", lines());
    }

    private static String render(ILoggingEvent e) {
        StringBuilder b = new StringBuilder().append(e.getLevel()).append(' ').append(e.getLoggerName()).append(' ')
                .append(e.getMDCPropertyMap()).append(' ').append(e.getFormattedMessage());
        if (e.getArgumentArray() != null) {
            for (Object a : e.getArgumentArray()) {
                b.append(" arg=").append(a);
            }
        }
        for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
            b.append("\n  ").append(t.getClassName()).append(": ").append(t.getMessage());
            for (IThrowableProxy s : t.getSuppressed()) {
                b.append("\n  suppressed ").append(s.getClassName()).append(": ").append(s.getMessage());
            }
            for (StackTraceElementProxy f : t.getStackTraceElementProxyArray()) {
                b.append("\n    ").append(f.getSTEAsString());
            }
        }
        return b.toString();
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        logger.setLevel(previous);
        appender.stop();
    }
}
