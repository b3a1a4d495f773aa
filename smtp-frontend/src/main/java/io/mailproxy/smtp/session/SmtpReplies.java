package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.SmtpReply;

/**
 * Every reply text the session writes itself (without CRLF), in one place. Replies that relay or quote an upstream
 * reply are not here; client text quoted in a reply loses its control characters when it is sent.
 */
final class SmtpReplies {

    private SmtpReplies() {
    }

    /** A template's one {@code %s} filled in (a host name, a limit, client text). */
    static String format(String template, Object value) {
        return String.format(java.util.Locale.ROOT, template, value);
    }

    // ------------------------------------------------------------ connection (%s: the host name)

    static final String GREETING = "220 %s mailproxy ESMTP ready";
    static final String CLOSING = "221 2.0.0 %s closing connection";
    static final String SHUTTING_DOWN = "421 4.3.2 %s Service shutting down";
    static final String LOCAL_ERROR = "421 4.3.0 %s Local error, closing connection";
    static final String TOO_MANY_ERRORS = "421 4.7.0 %s Too many errors, closing connection";
    static final String IDLE_TIMEOUT = "421 4.4.2 %s Timeout waiting for client input, closing connection";
    /** Host, then the pre-login timeout in seconds. */
    static final String NO_LOGIN_IN_TIME = "421 4.4.2 %s No login within %d seconds, closing connection";
    static final String EVICTED = "421 4.7.0 %s Too many connections not yet logged in";
    static final String TOO_MANY_LOGIN_FAILURES = "421 4.7.0 %s Too many failed logins, closing connection";
    static final String NOT_HTTP = "421 4.7.0 %s This is an SMTP server, closing connection";

    /** What a goodbye after an abandoned message says after its refusal. */
    static final String CLOSING_SUFFIX = "; closing connection";

    // ------------------------------------------------------------ any state

    static final String LINE_TOO_LONG = "500 5.5.2 Line too long";
    static final String UNRECOGNIZED = "500 5.5.1 Command unrecognized";
    static final String OK = "250 2.0.0 OK";
    static final String VRFY = "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery";
    static final String EXPN = "502 5.5.1 EXPN not supported";
    static final String BDAT = "502 5.5.1 BDAT not supported (CHUNKING is not offered)";

    static String help(boolean startTls) {
        return "214 2.0.0 Commands: EHLO HELO AUTH MAIL RCPT DATA RSET NOOP QUIT VRFY HELP"
                + (startTls ? " STARTTLS" : "");
    }

    /** A command that needs EHLO/HELO first (MAIL, DATA). */
    static final String SEND_HELO_FIRST = "503 5.5.1 Send EHLO or HELO first";
    static final String NEED_MAIL = "503 5.5.1 Need MAIL command first";

    // ------------------------------------------------------------ EHLO / HELO, STARTTLS

    /** %s: EHLO or HELO. */
    static final String HELO_SYNTAX = "501 5.5.4 Syntax: %s hostname";

    static final String INVALID_DOMAIN = "501 5.5.4 Invalid domain name";
    static final String TLS_ACTIVE = "503 5.5.1 TLS already active";
    static final String STARTTLS_NOT_AVAILABLE = "502 5.5.1 STARTTLS not available";
    static final String STARTTLS_SYNTAX = "501 5.5.4 Syntax: STARTTLS";
    static final String STARTTLS_IN_MAIL = "503 5.5.1 STARTTLS not allowed inside a mail transaction";
    static final String TLS_TEMPORARY = "454 4.7.0 TLS not available due to temporary reason";
    static final String READY_FOR_TLS = "220 2.0.0 Ready to start TLS";

    // ------------------------------------------------------------ AUTH

    static final String SEND_EHLO_FIRST = "503 5.5.1 Send EHLO first";
    static final String ALREADY_AUTHENTICATED = "503 5.5.1 Already authenticated";
    static final String AUTH_IN_MAIL = "503 5.5.1 AUTH not allowed inside a mail transaction";
    static final String STARTTLS_FIRST = "530 5.7.0 Must issue a STARTTLS command first";
    static final String AUTH_SYNTAX = "501 5.5.4 Syntax: AUTH mechanism [initial-response]";
    static final String AUTH_MECHANISM = "504 5.5.4 Unrecognized authentication type";
    static final String AUTH_CANCELLED = "501 5.7.0 Authentication cancelled";
    static final String AUTH_INVALID = "535 5.7.8 Authentication credentials invalid";
    static final String AUTH_OK = "235 2.7.0 Authentication successful";
    static final String AUTH_TEMPORARY = "454 4.7.0 Temporary authentication failure";
    static final String AUTH_SLOWED_DOWN = "454 4.7.0 Login slowed down after repeated failures, try again later";

    static final String CHALLENGE = "334 %s";
    static final String CANNOT_DECODE = "501 5.5.2 Cannot decode response: %s";

    // ------------------------------------------------------------ MAIL

    static final String NESTED_MAIL = "503 5.5.1 Nested MAIL command";
    static final String AUTH_REQUIRED = "530 5.7.0 Authentication required";
    static final String SIZE_SYNTAX = "501 5.5.4 Syntax: SIZE=<octets>";
    static final String BODY_UNSUPPORTED = "555 5.5.4 Unsupported BODY type";
    static final String NEEDS_SMTPUTF8 = "553 5.6.7 Non-ASCII address requires SMTPUTF8";

    static final String MAIL_SYNTAX = "501 5.5.4 Syntax: MAIL FROM:<address> (%s)";
    static final String TOO_BIG_DECLARED = "552 5.3.4 Message size exceeds fixed maximum message size (%s)";

    static String smtpUtf8Unsupported(String value) {
        return "555 5.5.4 Unsupported parameter SMTPUTF8" + (value != null ? "=" + value : "");
    }

    static final String UNSUPPORTED_PARAMETER = "555 5.5.4 Unsupported parameter %s";

    static final SmtpReply SENDER_OK = SmtpReply.of(250, "2.1.0 Sender OK");
    static final SmtpReply SPOOL_FULL = SmtpReply.of(452, "4.3.1 Insufficient system storage");
    static final SmtpReply UPSTREAM_NO_SMTPUTF8 =
            SmtpReply.of(553, "5.6.7 The upstream server does not support SMTPUTF8");
    static final SmtpReply UPSTREAM_BUSY =
            SmtpReply.of(451, "4.4.5 Too many connections or messages for this account upstream, try again later");
    static final SmtpReply UPSTREAM_LOGIN_FAILED =
            SmtpReply.of(454, "4.7.0 Upstream login or TLS failed, try again later");
    static final SmtpReply UPSTREAM_UNAVAILABLE =
            SmtpReply.of(451, "4.4.1 Upstream server unavailable, try again later");

    // ------------------------------------------------------------ RCPT

    static final String BAD_RECIPIENT = "501 5.1.3 Bad recipient address syntax";
    static final String TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients";
    static final SmtpReply RECIPIENT_OK = SmtpReply.of(250, "2.1.5 Recipient OK");

    static final String RCPT_SYNTAX = "501 5.5.4 Syntax: RCPT TO:<address> (%s)";

    // ------------------------------------------------------------ DATA

    static final String DATA_SYNTAX = "501 5.5.4 Syntax: DATA";
    static final String NO_RECIPIENTS = "554 5.5.1 No valid recipients";
    static final SmtpReply START_INPUT = SmtpReply.of(354, "Start mail input; end with <CRLF>.<CRLF>");
    static final SmtpReply HEADER_TOO_LARGE = SmtpReply.of(552, "5.3.4 Message header block too large");
    static final SmtpReply NOT_QUEUED = SmtpReply.of(451, "4.3.0 Local error in processing, message not queued");
    static final SmtpReply BARE_LINE_ENDING = SmtpReply.of(550, "5.6.11 Bare CR or LF not allowed");
    static final SmtpReply TOO_BIG = SmtpReply.of(552, "5.3.4 Message too big");
    static final SmtpReply ABORTED = SmtpReply.of(451, "4.3.0 Message aborted");

    static SmtpReply queued(String id) {
        return SmtpReply.of(250, "2.0.0 Queued as " + id);
    }
}
