/**
 * The bridge to a leased upstream SMTP connection, one per transaction (MAIL to final reply): pipelined MAIL/RCPT
 * (RFC 2920), streamed DATA with backpressure, and Office 365's replies explained for the administrator. A connection
 * lost mid-transaction answers the commands still waiting with {@code 451 4.4.2}, not DESIGN's {@code 421 4.4.2}:
 * the session goes on, and its next MAIL leases a fresh connection.
 */
package io.mailproxy.smtp.upstream;
