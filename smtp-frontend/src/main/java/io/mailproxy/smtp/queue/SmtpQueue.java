package io.mailproxy.smtp.queue;

import io.mailproxy.core.spi.QueueAdmin;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The SMTP store-and-forward queue ({@link QueueAdmin}: status, {@code queue list/retry/delete}). The running
 * daemon's is the SMTP frontend's {@code queue()}; without a daemon, {@link #offline} works on the spool itself.
 */
public interface SmtpQueue extends QueueAdmin {

    /** {@code <state-dir>/spool}. */
    static Path spoolDirectory(Path stateDir) {
        return stateDir.resolve("spool");
    }

    /**
     * The spool of a daemon that is not running (blocking). It touches committed messages only: whatever a crash
     * left half-written stays for the daemon's next start to remove.
     */
    static SmtpQueue offline(Path stateDir, java.time.Clock clock) throws IOException {
        Path dir = spoolDirectory(stateDir);
        if (!java.nio.file.Files.isDirectory(dir)) {
            return new OfflineQueue(null, clock);
        }
        return new OfflineQueue(Spool.openForAdministration(dir, clock), clock);
    }
}
