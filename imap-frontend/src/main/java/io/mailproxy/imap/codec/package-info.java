/** IMAP server-side framing: command lines, literals (RFC 3501 section 2.2, RFC 7888 LITERAL+), hard limits. */
package io.mailproxy.imap.codec;
