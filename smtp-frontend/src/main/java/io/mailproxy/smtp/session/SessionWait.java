package io.mailproxy.smtp.session;

/** What a session waits for besides its transaction; no command is handled meanwhile. */
enum SessionWait {
    NOTHING,
    /** The authenticator checks AUTH's credentials. */
    LOGIN_CHECK,
    /** STARTTLS answered, SslHandler not yet in place: no input may be read. */
    TLS_REPLY
}
