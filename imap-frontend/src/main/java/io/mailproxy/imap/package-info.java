/** The IMAP frontend (RFC 3501): plaintext IMAP for legacy apps, relayed to the account's upstream over the pool. */
package io.mailproxy.imap;
