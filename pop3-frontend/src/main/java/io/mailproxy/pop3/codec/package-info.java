/**
 * POP3 bytes to typed messages and back: the command-line framer with the RFC 2449 line limit, the response encoder
 * with RFC 1939 multi-line byte-stuffing, and the scanner that finds where an upstream response ends.
 */
package io.mailproxy.pop3.codec;
