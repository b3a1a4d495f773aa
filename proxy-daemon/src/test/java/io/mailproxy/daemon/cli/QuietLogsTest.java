package io.mailproxy.daemon.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class QuietLogsTest {

    /** `check` without --verbose: the WARN lines that repeat the table's failures are not written; errors are. */
    @Test
    void warningsAreHeldBackWhileQuietAndTheLevelComesBackAfterwards() {
        Logger parent = (Logger) LoggerFactory.getLogger("io.mailproxy");
        Logger child = (Logger) LoggerFactory.getLogger("io.mailproxy.core.pool.AccountPool");
        ListAppender<ILoggingEvent> seen = new ListAppender<>();
        seen.start();
        parent.addAppender(seen);
        ch.qos.logback.classic.Level before = parent.getLevel();
        try {
            try (QuietLogs quiet = QuietLogs.below(org.slf4j.event.Level.ERROR, "io.mailproxy")) {
                child.warn("no upstream IMAP connection for account a@example.test");
                child.error("something that stops the check");
            }
            assertThat(seen.list).extracting(ILoggingEvent::getFormattedMessage)
                    .containsExactly("something that stops the check");
            assertThat(parent.getLevel()).isEqualTo(before);
            child.warn("after the check");
            if (child.isWarnEnabled()) {
                assertThat(seen.list).hasSize(2);
            }
        } finally {
            parent.detachAppender(seen);
        }
    }
}
