/**
 * Upstream connector: TCP, implicit TLS and STARTTLS (RFC 2595, 3207, 8314; DESIGN rule 6), greetings and
 * capabilities (RFC 3501 CAPABILITY, RFC 2449 CAPA, RFC 5321 EHLO), SASL PLAIN (RFC 4616), LOGIN and XOAUTH2 in
 * IMAP AUTHENTICATE (RFC 3501, 4959 SASL-IR), POP3 AUTH (RFC 5034) and SMTP AUTH (RFC 4954), the post-login NOOP
 * check, and the hand-over of an authenticated channel.
 */
package io.mailproxy.core.upstream;
