/**
 * The IMAP frontend (RFC 3501): plaintext IMAP for legacy apps, relayed to the account's upstream over the pool.
 *
 * <p>{@code codec} frames client commands and literals; {@code session} is the state machine before login;
 * {@code upstream} relays a logged-in session to a leased connection (command tracking, LOGOUT back to the pool,
 * capability rewriting, and the token hand-over); {@code policy} applies a client's read-only and folders rules.
 * Settings: {@code mailproxy.imap} in this module's {@code reference.conf}.
 *
 * <p>Token hand-over limits: flag changes made by others between the two connections' views are not replayed (the
 * client sees them on its next FETCH); the new connection must offer LITERAL+ if the selected mailbox's name needs a
 * literal; a session that used ENABLE, NOTIFY or CONDSTORE is not moved (its state would be lost) but ended with
 * {@code * BYE [UNAVAILABLE]} at that safe point.
 */
package io.mailproxy.imap;
