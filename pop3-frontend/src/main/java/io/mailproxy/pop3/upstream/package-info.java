/**
 * The maildrop behind a POP3 session: relayed to an upstream POP3 server (RFC 1939, not pooled), or served from an
 * IMAP folder over a pooled connection (RFC 3501 with RFC 4315 UIDPLUS, RFC 6851 MOVE, RFC 6154 special-use), or
 * served from a Microsoft Graph mail folder ({@link io.mailproxy.core.graph.GraphMail}).
 */
package io.mailproxy.pop3.upstream;
