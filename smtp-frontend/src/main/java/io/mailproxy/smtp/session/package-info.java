/**
 * The SMTP submission state machine (RFC 5321 section 4.1.4 command order, RFC 4954 AUTH PLAIN/LOGIN, RFC 2920
 * pipelining, RFC 3207 STARTTLS) with local login, timeouts and graceful shutdown. A listener that offers STARTTLS
 * neither offers nor takes AUTH before TLS from a client that is not on loopback (RFC 3207 section 4, RFC 4954
 * section 4: {@code 530 5.7.0 Must issue a STARTTLS command first}).
 *
 * <p>{@link io.mailproxy.smtp.session.SmtpSession} owns the channel events, the state, the pipelining gate and the
 * goodbyes; each verb is a {@code Command}; each transaction a {@code Transaction} whose message goes to a
 * {@code MessageSink} (the upstream relay or the spool); every fixed reply text is in {@code SmtpReplies}.
 */
package io.mailproxy.smtp.session;
