/**
 * The POP3 frontend: RFC 1939 POP3 with RFC 2449 CAPA, RFC 3206 response codes and RFC 5034 SASL PLAIN, relayed to
 * an upstream POP3 server or served from an IMAP folder. {@link io.mailproxy.pop3.Pop3FrontendFactory} plugs it in.
 */
package io.mailproxy.pop3;
