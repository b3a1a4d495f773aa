/**
 * {@code sender = rewrite}: the envelope sender and the From:/Sender: header fields become the account's address
 * (RFC 5322 section 3.6.2, RFC 2047 encoded words via Jakarta Mail); only the bounded header block is buffered.
 */
package io.mailproxy.smtp.rewrite;
