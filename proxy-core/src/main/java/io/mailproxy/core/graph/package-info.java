/**
 * Microsoft Graph as an upstream: the mail API the SMTP frontend sends through ({@code sendMail}, drafts, attachment
 * upload sessions) and the POP3 frontend reads from (a mail folder's messages, their MIME). One client per daemon,
 * over HTTPS with the account's OAuth 2.0 token for Graph's audience; it owns Graph's throttling (concurrent requests
 * per mailbox, {@code 429}/{@code 503} with {@code Retry-After}). Frontends see only {@link io.mailproxy.core.graph.GraphMail}.
 */
package io.mailproxy.core.graph;
