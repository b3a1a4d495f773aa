/** The IMAP session state machine before login (RFC 3501 sections 3 and 6, RFC 4959 SASL-IR, RFC 2971 ID). */
package io.mailproxy.imap.session;
