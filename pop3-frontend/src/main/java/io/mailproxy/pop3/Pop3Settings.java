package io.mailproxy.pop3;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigOrigin;
import io.mailproxy.core.config.ConfigException;
import java.time.Duration;

/**
 * The {@code mailproxy.pop3} section (defaults and comments in this module's {@code reference.conf}).
 *
 * @param lineLimit         RFC 2449 command line limit, CRLF included (255)
 * @param lineTolerance     octets accepted beyond {@code lineLimit} before a line is refused
 * @param abusiveLineLength a line still going at this length closes the session
 * @param maxOverlongLines  refused overlong lines after which the session closes
 * @param idleTimeout       RFC 1939 autologout timer (at least 10 minutes by the RFC)
 * @param loginTimeout      time a connection may take to log in
 * @param upstreamTimeout   longest wait for one upstream reply (POP3-over-IMAP)
 * @param topFetchInitial   first partial BODY.PEEK[TEXT] fetch for TOP, octets
 * @param topFetchMax       largest partial fetch for TOP, octets (each retry doubles up to this)
 * @param implementation    the CAPA IMPLEMENTATION value
 * @param recoveryAttempts  fresh connections tried when the IMAP upstream ended the session between commands (0: none)
 * @param recoveryBackoff   the wait before the second of those tries, doubled before each next
 * @param maxMessages       the most messages a maildrop served from IMAP or Graph lists (the oldest); memory per
 *                          session grows with it
 */
public record Pop3Settings(
        int lineLimit,
        int lineTolerance,
        long abusiveLineLength,
        int maxOverlongLines,
        Duration idleTimeout,
        Duration loginTimeout,
        Duration upstreamTimeout,
        int topFetchInitial,
        int topFetchMax,
        String implementation,
        int recoveryAttempts,
        Duration recoveryBackoff,
        int maxMessages) {

    public Pop3Settings {
        if (lineLimit < 16 || lineTolerance < 0) {
            throw new IllegalArgumentException("mailproxy.pop3.line-limit must be >= 16, line-tolerance >= 0");
        }
        if (abusiveLineLength <= (long) lineLimit + lineTolerance) {
            throw new IllegalArgumentException("mailproxy.pop3.abusive-line-length must exceed line-limit + line-tolerance");
        }
        if (maxOverlongLines < 1 || topFetchInitial < 64 || topFetchMax < topFetchInitial) {
            throw new IllegalArgumentException(
                    "mailproxy.pop3: max-overlong-lines >= 1, top-fetch-initial >= 64, top-fetch-max >= top-fetch-initial");
        }
        if (idleTimeout.isNegative() || idleTimeout.isZero() || upstreamTimeout.isNegative() || upstreamTimeout.isZero()
                || loginTimeout.isNegative() || loginTimeout.isZero()) {
            throw new IllegalArgumentException("mailproxy.pop3 timeouts must be positive");
        }
        if (recoveryAttempts < 0 || recoveryBackoff.isNegative()) {
            throw new IllegalArgumentException("mailproxy.pop3.recovery-attempts and recovery-backoff must not be negative");
        }
        if (maxMessages < 1) {
            throw new IllegalArgumentException("mailproxy.pop3.max-messages must be at least 1");
        }
    }

    /** The longest accepted command line. */
    public int maxLineLength() {
        return lineLimit + lineTolerance;
    }

    /** The built-in defaults of this module's reference.conf. */
    public static Pop3Settings defaults() {
        return from(ConfigFactory.defaultReference(Pop3Settings.class.getClassLoader()).getConfig("mailproxy.pop3"));
    }

    /**
     * Reads the {@code mailproxy.pop3} section; missing keys take this module's reference.conf defaults.
     *
     * @throws ConfigException naming the file, line and what is expected
     */
    public static Pop3Settings from(Config section) {
        Config c = section.withFallback(
                ConfigFactory.defaultReference(Pop3Settings.class.getClassLoader()).getConfig("mailproxy.pop3"));
        try {
            return new Pop3Settings(
                    c.getInt("line-limit"),
                    c.getInt("line-tolerance"),
                    c.getBytes("abusive-line-length"),
                    c.getInt("max-overlong-lines"),
                    c.getDuration("idle-timeout"),
                    c.getDuration("login-timeout"),
                    c.getDuration("upstream-timeout"),
                    Math.toIntExact(c.getBytes("top-fetch-initial")),
                    Math.toIntExact(c.getBytes("top-fetch-max")),
                    c.getString("implementation"),
                    c.getInt("recovery-attempts"),
                    c.getDuration("recovery-backoff"),
                    c.getInt("max-messages"));
        } catch (com.typesafe.config.ConfigException e) {
            ConfigOrigin o = e.origin();
            throw new ConfigException(o == null ? null : o.description(), o == null ? 0 : o.lineNumber(),
                    "mailproxy.pop3", e.getMessage());
        } catch (IllegalArgumentException | ArithmeticException e) {
            ConfigOrigin o = section.origin();
            throw new ConfigException(o.description(), o.lineNumber(), "mailproxy.pop3", e.getMessage());
        }
    }
}
