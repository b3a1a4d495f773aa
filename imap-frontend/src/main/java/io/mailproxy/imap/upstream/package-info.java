/** The post-login relay to a leased upstream IMAP connection, with command tracking, response filtering, hand-over and backpressure (RFC 3501, RFC 2177 IDLE, RFC 7888). */
package io.mailproxy.imap.upstream;
