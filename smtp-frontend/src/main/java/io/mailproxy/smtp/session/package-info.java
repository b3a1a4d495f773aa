/**
 * The SMTP submission state machine (RFC 5321 section 4.1.4 command order, RFC 4954 AUTH PLAIN/LOGIN, RFC 2920
 * pipelining, RFC 3207 STARTTLS) with local login, timeouts and graceful shutdown.
 */
package io.mailproxy.smtp.session;
