/** Per-client IMAP policy: read-only and the folders allow-list (RFC 3501 commands, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS). */
package io.mailproxy.imap.policy;
