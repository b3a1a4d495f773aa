package io.mailproxy.smtp;

import io.mailproxy.smtp.codec.SmtpServerDecoder;
import io.mailproxy.smtp.session.SmtpSettings;
import java.time.Duration;

/**
 * {@link SmtpSettings} for tests, by name instead of eleven positional arguments: starts from test defaults
 * (host mx.test, 1000-byte lines, 35 MiB messages, 4 KiB headers, 100 recipients, 60 s before login, 5 min idle,
 * 10 min for an upstream reply, 8BITMIME and SMTPUTF8 on, the decoder's default max-discard).
 */
final class SmtpSettingsBuilder {

    private String hostname = "mx.test";
    private int maxLine = 1000;
    private long maxMessageSize = 35L * 1024 * 1024;
    private int headerLimit = 4096;
    private int maxRecipients = 100;
    private Duration preLoginTimeout = Duration.ofSeconds(60);
    private Duration idleTimeout = Duration.ofMinutes(5);
    private Duration upstreamReplyTimeout = Duration.ofMinutes(10);
    private boolean eightBitMime = true;
    private boolean smtpUtf8 = true;
    private long maxDiscard = SmtpServerDecoder.DEFAULT_MAX_DISCARD;

    static SmtpSettingsBuilder defaults() {
        return new SmtpSettingsBuilder();
    }

    SmtpSettingsBuilder hostname(String hostname) {
        this.hostname = hostname;
        return this;
    }

    SmtpSettingsBuilder maxMessageSize(long maxMessageSize) {
        this.maxMessageSize = maxMessageSize;
        return this;
    }

    SmtpSettingsBuilder headerLimit(int headerLimit) {
        this.headerLimit = headerLimit;
        return this;
    }

    SmtpSettingsBuilder maxRecipients(int maxRecipients) {
        this.maxRecipients = maxRecipients;
        return this;
    }

    SmtpSettingsBuilder timeouts(Duration preLogin, Duration idle, Duration upstreamReply) {
        this.preLoginTimeout = preLogin;
        this.idleTimeout = idle;
        this.upstreamReplyTimeout = upstreamReply;
        return this;
    }

    SmtpSettingsBuilder maxDiscard(long maxDiscard) {
        this.maxDiscard = maxDiscard;
        return this;
    }

    SmtpSettings build() {
        return new SmtpSettings(hostname, maxLine, maxMessageSize, headerLimit, maxRecipients, preLoginTimeout,
                idleTimeout, upstreamReplyTimeout, eightBitMime, smtpUtf8, maxDiscard);
    }
}
