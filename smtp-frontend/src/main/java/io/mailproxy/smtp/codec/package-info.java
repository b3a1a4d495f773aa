/**
 * Bytes to SMTP messages and back: the server-side command and DATA framer (RFC 5321 sections 2.3.8, 4.1.1.4,
 * 4.5.2, 4.5.3.1), the reply decoder for the upstream side, and command-argument parsing (RFC 5321 4.1.2, RFC 1870
 * SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8).
 */
package io.mailproxy.smtp.codec;
