/**
 * The streaming, literal-aware IMAP client side shared by the pool, the IMAP frontend's relay and POP3-over-IMAP
 * (RFC 3501, RFC 7888 LITERAL+, RFC 3516 literal8 syntax, RFC 3501 5.1.3 modified UTF-7).
 *
 * <h2>Relaying bytes: {@link io.mailproxy.core.imap.ImapResponseDecoder}</h2>
 * Put it after {@code "tls"} on an upstream channel; it emits {@link io.mailproxy.core.imap.ImapResponseLine}
 * segments (the exact bytes of a line up to CRLF, or up to a {@code {n}} announcement) and
 * {@link io.mailproxy.core.imap.ImapLiteralChunk}s (literal bytes as they arrive). A response ends with the segment
 * whose {@code endsResponse()} is true; a tagged one of those completes its command. Forward
 * {@code content().retain()} of each message to the client and release the message: the relay stays byte-exact
 * and still knows when the upstream is idle.
 *
 * <h2>Running commands: {@link io.mailproxy.core.imap.ImapClient}</h2>
 * <pre>{@code
 * ImapClient imap = ImapClient.attach(lease.session().channel());   // adds decoder + handler after "tls"
 * imap.execute("EXAMINE INBOX")                                      // untagged responses collected
 *     .thenCompose(c -> imap.execute("UID SEARCH UNSEEN"))
 *     .thenAccept(c -> c.first("SEARCH").ifPresent(r -> r.values()));  // [Atom SEARCH, Atom 4, Atom 9]
 * imap.execute("UID FETCH 9 BODY.PEEK[]", new ImapResponseListener() {  // streamed, never buffered whole
 *     public void literal(ImapLiteralChunk c) { out.write(c.content().retain()); if (!out.isWritable()) imap.suspendReading(); }
 * });
 * imap.detach();                                                     // before lease.release(...)
 * }</pre>
 * Futures complete on the channel's event loop and fail with
 * {@link io.mailproxy.core.upstream.UpstreamException}. Mailbox names go on the wire as
 * {@link io.mailproxy.core.imap.ModifiedUtf7#encode} inside a quoted string.
 */
package io.mailproxy.core.imap;
