package io.mailproxy.smtp.queue;

import com.typesafe.config.Config;
import io.mailproxy.core.config.ConfigException;
import java.time.Duration;
import java.util.Optional;

/** The {@code mailproxy.smtp.queue} section, read once at start-up and validated. */
public record QueueSettings(
        long maxSize,
        Duration fsyncWindow,
        int messagesPerMinute,
        int recipientsPerDay,
        int connectionsPerAccount,
        Duration initialBackoff,
        Duration maxBackoff,
        double backoffJitter,
        Duration maxAge,
        Duration quotaDeferral,
        Duration throttlePause,
        Optional<String> bounceToAdmin,
        boolean bounceToSender,
        Duration idlePoll) {

    public QueueSettings {
        if (maxSize < 1024 * 1024) {
            throw new IllegalArgumentException("max-size must be at least 1 MiB, got " + maxSize);
        }
        if (fsyncWindow.isNegative() || fsyncWindow.compareTo(Duration.ofSeconds(1)) > 0) {
            throw new IllegalArgumentException("fsync-window must be between 0 and 1s, got " + fsyncWindow);
        }
        if (messagesPerMinute < 1 || recipientsPerDay < 1 || connectionsPerAccount < 1) {
            throw new IllegalArgumentException("messages-per-minute, recipients-per-day and connections-per-account"
                    + " must be positive");
        }
        for (Duration d : new Duration[] {initialBackoff, maxBackoff, maxAge, quotaDeferral, throttlePause, idlePoll}) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("durations must be positive, got " + d);
            }
        }
        if (maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("max-backoff must not be below initial-backoff");
        }
        if (backoffJitter < 0 || backoffJitter >= 1) {
            throw new IllegalArgumentException("backoff-jitter must be in [0, 1), got " + backoffJitter);
        }
        bounceToAdmin.ifPresent(a -> {
            if (!a.matches("[^\\s<>@]+@[^\\s<>@]+")) {
                throw new IllegalArgumentException("bounce-to-admin must be an address like postmaster@example.com, got \""
                        + a + "\"");
            }
        });
    }

    /** The defaults of reference.conf, for tests. */
    public static QueueSettings defaults() {
        return new QueueSettings(1L << 30, Duration.ofMillis(2), 30, 10_000, 1, Duration.ofMinutes(1),
                Duration.ofHours(1), 0.2, Duration.ofDays(2), Duration.ofHours(24), Duration.ofHours(1),
                Optional.empty(), false, Duration.ofSeconds(30));
    }

    /**
     * @param section the {@code mailproxy.smtp.queue} block (reference.conf supplies every key)
     * @param source  the config file, for error messages
     */
    public static QueueSettings from(Config section, String source) {
        try {
            String admin = section.getString("bounce-to-admin").trim();
            return new QueueSettings(
                    section.getBytes("max-size"),
                    section.getDuration("fsync-window"),
                    section.getInt("messages-per-minute"),
                    section.getInt("recipients-per-day"),
                    section.getInt("connections-per-account"),
                    section.getDuration("initial-backoff"),
                    section.getDuration("max-backoff"),
                    section.getDouble("backoff-jitter"),
                    section.getDuration("max-age"),
                    section.getDuration("quota-deferral"),
                    section.getDuration("throttle-pause"),
                    admin.isEmpty() ? Optional.empty() : Optional.of(admin),
                    section.getBoolean("bounce-to-sender"),
                    section.getDuration("idle-poll"));
        } catch (com.typesafe.config.ConfigException e) {
            int line = e.origin() == null ? -1 : e.origin().lineNumber();
            throw new ConfigException(source, line, "mailproxy.smtp.queue", e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(source, -1, "mailproxy.smtp.queue", e.getMessage());
        }
    }
}
