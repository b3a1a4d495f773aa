/**
 * The bridge to a leased upstream SMTP connection, one per transaction (MAIL to final reply): pipelined MAIL/RCPT
 * (RFC 2920), streamed DATA with backpressure, and Office 365's replies explained for the administrator.
 */
package io.mailproxy.smtp.upstream;
