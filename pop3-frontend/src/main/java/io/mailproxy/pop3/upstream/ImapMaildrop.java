package io.mailproxy.pop3.upstream;

import io.mailproxy.core.imap.ImapMailboxData;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.imap.ImapClient;
import io.mailproxy.core.imap.ImapCompletion;
import io.mailproxy.core.imap.ImapResponse;
import io.mailproxy.core.imap.ImapResponseLine;
import io.mailproxy.core.imap.ImapResponseListener;
import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.core.imap.ModifiedUtf7;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.spi.CoreServices;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.pop3.Pop3Settings;
import io.mailproxy.pop3.codec.Pop3Command;
import io.mailproxy.pop3.codec.Pop3Data;
import io.mailproxy.pop3.codec.Pop3Response;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a POP3 maildrop from an IMAP folder over a pooled connection. The maildrop is the folder as it stands at
 * login (RFC 1939 fixes message numbers for the session, {@link ImapListing}): {@code UID SEARCH ALL} (or
 * {@code UNSEEN}), then {@code UID FETCH 1:* (UID RFC822.SIZE)}. Sizes are RFC822.SIZE, which Office 365 only
 * estimates unless the tenant sets ImapEnableExactRFC822Size, so a message's STAT/LIST size can differ from the octets
 * RETR sends. UIDL is {@code <uidvalidity>.<uid>}. RETR streams {@code BODY.PEEK[]} (never marking a message read,
 * {@link ImapBodyStream}); TOP fetches {@code BODY.PEEK[HEADER]} and partial {@code BODY.PEEK[TEXT]<offset.n>} pieces
 * until the lines are complete. A message another client removed after the listing gets a plain {@code -ERR} (see
 * {@code noBody}), never an empty body. DELE only marks; QUIT applies {@code on-delete} in one place ({@link #quit},
 * with the commands of {@link OnDeletePlan}); a session that ends any other way changes nothing upstream. The
 * connection, its hand-over to a fresh lease and the end of the session on a failure are {@link ImapUpstream}'s.
 *
 * <p>Threads: the maildrop's state lives on the client's event loop. {@link ImapClient} futures complete, and its
 * listeners run, on the upstream channel's loop; completions hop back to the client's loop, and body bytes are
 * written to the client channel from the listener (Netty queues them in order).
 */
final class ImapMaildrop implements Pop3Maildrop {
    private static final Logger log = LoggerFactory.getLogger(ImapMaildrop.class);

    private final ImapUpstream upstream;
    private final Channel client;
    private final Pop3Settings settings;
    private final Pop3Policy policy;
    private final String sessionId;
    private final String account;
    private final boolean hasMove;
    /** SELECT, or EXAMINE when nothing is ever changed (on-delete = keep). */
    private final String select;

    /** The listing, fixed at login. */
    private ImapListing listing = ImapListing.empty(0);
    /** The resolved destination of on-delete = move:FOLDER, encoded and quoted for the wire. */
    private String moveTarget;

    private ImapMaildrop(CoreServices services, LocalLogin.Accepted login, Lease lease, Channel client,
            Pop3Settings settings, Pop3Policy policy, String sessionId, String account) {
        this.client = client;
        this.settings = settings;
        this.policy = policy;
        this.sessionId = sessionId;
        this.account = account;
        this.hasMove = lease.session().hasCapability("MOVE");
        boolean readOnly = policy.onDelete().kind() == OnDelete.Kind.KEEP;
        this.select = (readOnly ? "EXAMINE " : "SELECT ") + ModifiedUtf7.quoted(policy.folder());
        this.upstream = new ImapUpstream(services, login, lease, client, settings, sessionId, select);
    }

    static CompletableFuture<Pop3Maildrop> open(
            CoreServices services, LocalLogin.Accepted login, Channel client, Pop3Settings settings, String sessionId) {
        Pop3Policy policy = login.client().pop3();
        String account = login.account().name();
        return services.pools().acquire(login.account(), Protocol.IMAP).thenCompose(lease -> {
            try {
                checkCapabilities(lease, policy, account);
            } catch (Pop3ReplyException e) {
                lease.release(false);
                return CompletableFuture.failedFuture(e);
            }
            ImapMaildrop maildrop;
            try {
                maildrop = new ImapMaildrop(services, login, lease, client, settings, policy, sessionId, account);
            } catch (RuntimeException e) {
                lease.discard();
                return CompletableFuture.failedFuture(e);
            }
            return maildrop.load().handle((ignored, error) -> {
                if (error != null) {
                    maildrop.upstream.release(!(ImapUpstream.unwrap(error) instanceof Pop3ReplyException));
                    throw error instanceof CompletionException ce ? ce : new CompletionException(error);
                }
                maildrop.upstream.listenWhileIdle();
                return maildrop;
            });
        });
    }

    /** Refuses a session whose on-delete the upstream cannot carry out safely (see {@link OnDeletePlan}). */
    private static void checkCapabilities(Lease lease, Pop3Policy policy, String account) throws Pop3ReplyException {
        OnDelete.Kind kind = policy.onDelete().kind();
        boolean missing = OnDeletePlan.missingCapability(policy.onDelete(),
                lease.session().hasCapability("MOVE"), lease.session().hasCapability("UIDPLUS")).isPresent();
        if (missing) {
            throw new Pop3ReplyException(
                    Pop3Response.err("[SYS/PERM] The mail server cannot delete messages safely (no UIDPLUS); "
                            + "ask the administrator to change on-delete"),
                    "on-delete " + kind.name().toLowerCase(Locale.ROOT) + " needs UID EXPUNGE, but the IMAP upstream of account "
                            + account + " does not advertise UIDPLUS; refusing the session (a plain EXPUNGE would also "
                            + "remove other clients' \\Deleted messages)");
        }
    }

    // ---- loading the maildrop ------------------------------------------------------------------------------------

    private CompletableFuture<Void> load() {
        // every next command is issued from a fresh task, never from inside the previous command's completion:
        // ImapClient completes a future before it takes the next queued command, so a command issued re-entrantly
        // would be overwritten
        ImapClient imap = upstream.imap();
        EventLoop loop = imap.channel().eventLoop();
        CompletableFuture<Void> resolved = CompletableFuture.completedFuture(null);
        if (policy.onDelete().kind() == OnDelete.Kind.MOVE) {
            String folder = policy.onDelete().moveTo().orElseThrow();
            if (folder.startsWith("\\")) {
                resolved = imap.execute("LIST \"\" \"*\"").thenAcceptAsync(c -> resolveSpecialUse(folder, c), loop);
            } else {
                moveTarget = OnDeletePlan.folder(folder);
            }
        }
        return resolved
                .thenComposeAsync(v -> imap.execute(select), loop)
                .thenComposeAsync(c -> {
                    if (!c.isOk()) {
                        throw new CompletionException(new Pop3ReplyException(
                                Pop3Response.err("[SYS/PERM] Folder " + policy.folder() + " is not available upstream"),
                                "IMAP " + select + " failed for account " + account + ": " + c.status() + " " + c.text()));
                    }
                    long uidValidity = ImapMailboxData.uidValidity(c).orElseThrow(() -> new CompletionException(
                            new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR,
                                    "no UIDVALIDITY in the SELECT reply")));
                    upstream.selected(uidValidity);
                    listing = ImapListing.empty(uidValidity);
                    return imap.execute(ImapListing.search(policy.onlyUnseen()));
                }, loop)
                .thenComposeAsync(c -> {
                    expectOk(c, "UID SEARCH");
                    ImapListing.Builder found = new ImapListing.Builder(listing.uidValidity(),
                            ImapMailboxData.searchResult(c), settings.maxMessages());
                    if (found.leftOut() > 0) {
                        log.warn("{} POP3 maildrop {} of account {}: {} messages, more than {}; serving the oldest {}"
                                + " (pop3.max-messages), the rest once those are deleted", sessionId, policy.folder(),
                                account, settings.maxMessages() + found.leftOut(), settings.maxMessages(),
                                settings.maxMessages());
                    }
                    if (found.isEmpty()) {
                        return CompletableFuture.completedFuture(null);
                    }
                    ImapResponseListener sizes = new ImapResponseListener() {
                        @Override
                        public void untagged(ImapResponseLine line) {
                            if (line.isFirst() && line.endsResponse()) {
                                found.fetched(response(line));
                            }
                        }
                    };
                    return imap.execute(ImapListing.SIZES, sizes).thenAccept(done -> {
                        expectOk(done, "UID FETCH");
                        listing = found.build();
                    });
                }, loop)
                .thenRun(() -> log.debug("{} POP3 maildrop {} of account {}: {} messages, UIDVALIDITY {}",
                        sessionId, policy.folder(), account, listing.pop3().size(), listing.uidValidity()));
    }

    private static ImapResponse response(ImapResponseLine line) {
        ByteBuf buf = line.content();
        byte[] raw = new byte[buf.readableBytes()];
        buf.getBytes(buf.readerIndex(), raw);
        return new ImapResponse(null, raw);
    }

    private void resolveSpecialUse(String use, ImapCompletion list) {
        expectOk(list, "LIST");
        if (!OnDeletePlan.isSpecialUse(use)) {
            throw new CompletionException(new Pop3ReplyException(
                    Pop3Response.err("[SYS/PERM] Misconfigured on-delete folder"),
                    "on-delete move:" + use + " is not an RFC 6154 special-use name"));
        }
        String wire = OnDeletePlan.specialUse(use, list.all("LIST")).orElseThrow(() -> new CompletionException(
                new Pop3ReplyException(
                        Pop3Response.err("[SYS/PERM] The folder for deleted messages does not exist upstream"),
                        "on-delete move:" + use + ": no folder of account " + account + " has the " + use
                                + " special-use attribute (RFC 6154)")));
        moveTarget = OnDeletePlan.quoted(wire);
        log.debug("{} on-delete move:{} resolved to {}", sessionId, use, ModifiedUtf7.decode(wire));
    }

    // ---- Pop3Maildrop ---------------------------------------------------------------------------------------------

    @Override
    public String greeting() {
        return listing.pop3().greeting();
    }

    @Override
    public List<String> capabilities() {
        return List.of("TOP", "UIDL");
    }

    @Override
    public void execute(Pop3Command command, Runnable done) {
        upstream.commandStarts();
        if (upstream.ended()) {
            done.run();
            return;
        }
        listing.pop3().execute(command, client, done, this, (c, i, d) -> {
            long uid = listing.uid(i);
            if (c.verb() == Pop3Command.Verb.RETR) {
                upstream.withUpstream(() -> retr(c.message(), uid, d));
            } else {
                upstream.withUpstream(() -> top(c.message(), uid, c.lines(), d));
            }
        });
    }

    // ---- RETR and TOP ---------------------------------------------------------------------------------------------

    private ImapBodyStream body(String section, long linesLeft) {
        return new ImapBodyStream(section, linesLeft, upstream, client);
    }

    private void retr(int number, long uid, Runnable done) {
        ImapBodyStream body = body("", Long.MAX_VALUE);
        upstream.command("UID FETCH " + uid + " (BODY.PEEK[])", body, c -> {
            if (body.started || body.emptyMessage(c)) {
                client.writeAndFlush(Pop3Data.END).addListener(f -> done.run());
            } else {
                noBody(number, uid, c, done);
            }
        });
    }

    /**
     * TOP: the header, then partial fetches of the text, each twice the previous up to top-fetch-max, until
     * {@code lines} lines are out or the text ends. The whole message is fetched only when the lines need it.
     */
    private void top(int number, long uid, long lines, Runnable done) {
        ImapBodyStream header = body("HEADER", Long.MAX_VALUE);
        upstream.command("UID FETCH " + uid + " (BODY.PEEK[HEADER])", header, c -> {
            if (!header.started && !header.emptyMessage(c)) {
                noBody(number, uid, c, done);
            } else {
                // RFC 3501 BODY[HEADER] includes the blank line that ends the header; some servers (GreenMail) omit it
                String missing = header.missingHeaderEnd();
                if (!missing.isEmpty()) {
                    client.write(Pop3Data.ascii(missing));
                }
                if (lines == 0) {
                    client.writeAndFlush(Pop3Data.END).addListener(f -> done.run());
                } else {
                    topText(uid, 0, settings.topFetchInitial(), lines, done);
                }
            }
        });
    }

    private void topText(long uid, long offset, int length, long linesLeft, Runnable done) {
        ImapBodyStream text = body("TEXT", linesLeft);
        text.started = true; // the status line went out with the header
        upstream.command("UID FETCH " + uid + " (BODY.PEEK[TEXT]<" + offset + "." + length + ">)", text, c -> {
            long left = text.linesLeft;
            if (left <= 0 || text.literalLength < length) {
                // lines complete, or the text ended (a shorter piece, an empty string, NIL, or the message vanished)
                client.writeAndFlush(Pop3Data.END).addListener(f -> done.run());
            } else {
                topText(uid, offset + length, (int) Math.min((long) length * 2, settings.topFetchMax()), left, done);
            }
        });
    }

    /**
     * The fetch ended without the message. BODY[] NIL, no FETCH at all (Office 365), a NO (RFC 2180 section 4.1.2) or
     * [EXPUNGEISSUED] (RFC 5530): another client removed it after the listing, so a plain -ERR (retrying cannot bring
     * it back); the session goes on, and a DELE of it is harmless at QUIT (UID STORE and UID EXPUNGE skip a missing
     * UID). A BAD (Office 365's throttling) means the command did not run: [SYS/TEMP], the client may retry.
     */
    private void noBody(int number, long uid, ImapCompletion c, Runnable done) {
        if (c.status() == ImapStatus.BAD) {
            log.warn("{} POP3 message {} (UID {}) of account {} not fetched, the upstream refused the command: BAD {}",
                    sessionId, number, uid, account, c.text());
            reply(Pop3Response.err("[SYS/TEMP] The mail server did not send message " + number + ", try again later"),
                    done);
            return;
        }
        log.info("{} POP3 message {} (UID {}) of account {} was removed upstream by another client after the listing; "
                + "answered -ERR (upstream said: {} {})", sessionId, number, uid, account, c.status(), c.text());
        reply(Pop3Response.err("Message " + number + " no longer exists (removed by another client)"), done);
    }

    // ---- UPDATE ---------------------------------------------------------------------------------------------------

    /** RFC 1939 section 6: QUIT in TRANSACTION enters UPDATE and applies on-delete to the DELE'd messages only. */
    @Override
    public void quit(Runnable done) {
        upstream.commandStarts();
        if (upstream.ended()) {
            done.run();
            return;
        }
        List<Long> marked = listing.markedUids();
        OnDeletePlan plan = new OnDeletePlan(policy.onDelete(), hasMove, moveTarget);
        List<String> commands = plan.commands(marked);
        int count = marked.size();
        Runnable apply = () -> update(commands, 0, () -> {
            log.info("{} POP3 QUIT: on-delete {} applied to {} messages of account {}", sessionId,
                    plan.describe(), count, account);
            upstream.release(false);
            upstream.end();
            reply(OnDeletePlan.signingOff(policy.onDelete(), count), done);
        }, done);
        if (commands.isEmpty()) {
            apply.run();
        } else {
            upstream.withUpstream(apply);
        }
    }

    private void update(List<String> commands, int next, Runnable success, Runnable done) {
        if (next == commands.size()) {
            success.run();
            return;
        }
        String command = commands.get(next);
        upstream.command(command, null, c -> {
            if (!c.isOk()) {
                log.warn("{} POP3 QUIT: {} failed for account {}: {} {}", sessionId, command.split(" ", 3)[1], account,
                        c.status(), c.text());
                upstream.end();
                upstream.release(true);
                client.writeAndFlush(Pop3Response.err("[SYS/TEMP] Some deleted messages not removed"))
                        .addListener(f -> done.run());
                return;
            }
            update(commands, next + 1, success, done);
        });
    }

    @Override
    public void abandon() {
        if (upstream.ended()) {
            return;
        }
        upstream.end();
        // nothing was changed upstream before QUIT; a clean channel goes back to the pool (it resets SELECTED)
        EventLoop clientLoop = client.eventLoop();
        if (clientLoop.inEventLoop()) {
            upstream.release(false);
        } else {
            clientLoop.execute(() -> upstream.release(false));
        }
    }

    private void reply(Pop3Response response, Runnable done) {
        Pop3Listing.reply(client, response, done);
    }

    private static void expectOk(ImapCompletion c, String what) {
        if (!c.isOk()) {
            throw new CompletionException(new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR,
                    what + " failed", c.status() + " " + c.text(), null));
        }
    }
}
