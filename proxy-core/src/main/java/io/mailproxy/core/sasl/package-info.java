/**
 * Server-side SASL (RFC 4422) for the three frontends, one set of rules: PLAIN (RFC 4616) and LOGIN
 * (draft-murchison-sasl-login). The frontends frame the exchange in their protocol (IMAP AUTHENTICATE, POP3 AUTH
 * RFC 5034, SMTP AUTH RFC 4954) and check the credentials it ends in.
 */
package io.mailproxy.core.sasl;
