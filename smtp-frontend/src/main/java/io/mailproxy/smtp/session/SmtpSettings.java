package io.mailproxy.smtp.session;

import com.typesafe.config.Config;
import io.mailproxy.core.config.ConfigException;
import java.net.InetAddress;
import java.time.Duration;

/**
 * The {@code mailproxy.smtp} section, read once per configuration and validated.
 *
 * @param maxLine the longest command line, CRLF included (line-limit plus line-tolerance)
 */
public record SmtpSettings(
        String hostname,
        int maxLine,
        long maxMessageSize,
        int headerLimit,
        int maxRecipients,
        Duration preLoginTimeout,
        Duration idleTimeout,
        Duration upstreamReplyTimeout,
        boolean eightBitMime,
        boolean smtpUtf8,
        long maxDiscard) {

    /** Settings with the default {@code max-discard}. */
    public SmtpSettings(String hostname, int maxLine, long maxMessageSize, int headerLimit, int maxRecipients,
                        Duration preLoginTimeout, Duration idleTimeout, Duration upstreamReplyTimeout,
                        boolean eightBitMime, boolean smtpUtf8) {
        this(hostname, maxLine, maxMessageSize, headerLimit, maxRecipients, preLoginTimeout, idleTimeout,
                upstreamReplyTimeout, eightBitMime, smtpUtf8,
                io.mailproxy.smtp.codec.SmtpServerDecoder.DEFAULT_MAX_DISCARD);
    }

    public SmtpSettings {
        if (hostname.isEmpty() || hostname.chars().anyMatch(c -> c <= ' ' || c > '~')) {
            throw new IllegalArgumentException("hostname must be a host name without spaces, got \"" + hostname + "\"");
        }
        if (maxLine < 512) {
            throw new IllegalArgumentException("line-limit plus line-tolerance must be at least 512 (RFC 5321), got " + maxLine);
        }
        if (maxMessageSize < 1024) {
            throw new IllegalArgumentException("max-message-size must be at least 1 KiB, got " + maxMessageSize);
        }
        if (headerLimit < 1024) {
            throw new IllegalArgumentException("header-limit must be at least 1 KiB, got " + headerLimit);
        }
        if (maxDiscard < 1024) {
            throw new IllegalArgumentException("max-discard must be at least 1 KiB, got " + maxDiscard);
        }
        if (maxRecipients < 1) {
            throw new IllegalArgumentException("max-recipients must be positive, got " + maxRecipients);
        }
        for (Duration d : new Duration[] {preLoginTimeout, idleTimeout, upstreamReplyTimeout}) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("timeouts must be positive, got " + d);
            }
        }
    }

    /**
     * @param section the {@code mailproxy.smtp} block (reference.conf supplies every key)
     * @param source  the config file, for error messages
     */
    public static SmtpSettings from(Config section, String source) {
        try {
            String hostname = section.getString("hostname");
            if (hostname.isEmpty()) {
                hostname = localHostName();
            }
            long headerLimit = section.getBytes("header-limit");
            if (headerLimit > Integer.MAX_VALUE / 2) {
                throw new IllegalArgumentException("header-limit too large: " + headerLimit);
            }
            return new SmtpSettings(
                    hostname,
                    section.getInt("line-limit") + section.getInt("line-tolerance"),
                    section.getBytes("max-message-size"),
                    (int) headerLimit,
                    section.getInt("max-recipients"),
                    section.getDuration("pre-login-timeout"),
                    section.getDuration("idle-timeout"),
                    section.getDuration("upstream-reply-timeout"),
                    section.getBoolean("8bitmime"),
                    section.getBoolean("smtputf8"),
                    section.getBytes("max-discard"));
        } catch (com.typesafe.config.ConfigException e) {
            int line = e.origin() == null ? -1 : e.origin().lineNumber();
            throw new ConfigException(source, line, "mailproxy.smtp", e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(source, -1, "mailproxy.smtp", e.getMessage());
        }
    }

    /** Blocking (may consult the resolver): called at start-up, never on an event loop. */
    private static String localHostName() {
        try {
            String name = InetAddress.getLocalHost().getHostName();
            return name.isEmpty() || name.chars().anyMatch(c -> c <= ' ' || c > '~') ? "localhost" : name;
        } catch (Exception e) {
            return "localhost";
        }
    }
}
