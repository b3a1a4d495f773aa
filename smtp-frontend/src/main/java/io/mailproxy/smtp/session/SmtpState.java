package io.mailproxy.smtp.session;

/**
 * Where a session stands in RFC 5321's command order (4.1.4); login is tracked beside it. Transitions happen in
 * {@link SmtpSession} and in its {@link Command}s, on the session's event loop; which state accepts which command is
 * each command's {@link Command#refusal}.
 */
enum SmtpState {
    /** Greeted; no EHLO/HELO yet. */
    CONNECTED,
    /** After EHLO/HELO (or RSET, or the end of a transaction): MAIL, AUTH, STARTTLS allowed. */
    READY,
    /** Inside an AUTH exchange: lines are SASL responses. */
    AUTH,
    /** MAIL accepted (or in flight): RCPT and DATA allowed. */
    MAIL,
    /** Between 354 and the final reply. */
    DATA,
    /** Goodbye sent or the client left. */
    CLOSED
}
