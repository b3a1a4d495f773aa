package io.mailproxy.pop3.upstream;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.config.ClientConfig.Pop3Policy;
import io.mailproxy.core.identity.LocalLogin;
import io.mailproxy.core.imap.ImapClient;
import io.mailproxy.core.imap.ImapCompletion;
import io.mailproxy.core.imap.ImapLiteralChunk;
import io.mailproxy.core.imap.ImapResponse;
import io.mailproxy.core.imap.ImapResponseDecoder;
import io.mailproxy.core.imap.ImapResponseLine;
import io.mailproxy.core.imap.ImapResponseListener;
import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.core.imap.ImapValue;
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
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a POP3 maildrop from an IMAP folder over a pooled connection. The maildrop is the folder as it stands at
 * login (RFC 1939 fixes message numbers for the session): {@code UID SEARCH ALL} (or {@code UNSEEN}), then
 * {@code UID FETCH 1:* (UID RFC822.SIZE)}. Sizes are RFC822.SIZE, which Office 365 only estimates unless the tenant
 * sets ImapEnableExactRFC822Size, so a message's STAT/LIST size can differ from the octets RETR sends. UIDL is
 * {@code <uidvalidity>.<uid>}. RETR streams {@code BODY.PEEK[]} (never marking a message read); TOP fetches
 * {@code BODY.PEEK[HEADER]} and partial {@code BODY.PEEK[TEXT]<offset.n>} pieces until the lines are complete. A
 * message another client removed after the listing gets a plain {@code -ERR} (see {@code noBody}), never an empty body.
 * DELE only marks; QUIT applies {@code on-delete} in one place ({@link #quit}); a session that ends any other way
 * changes nothing upstream. An upstream that ends between commands (Office 365 ends a session when its token
 * expires), or whose token expires within a minute, is handed over to a fresh lease at the next command that needs
 * the upstream, provided the folder's UIDVALIDITY is unchanged; an upstream lost during a command ends the session.
 *
 * <p>Threads: the maildrop's state lives on the client's event loop. {@link ImapClient} futures complete, and its
 * listeners run, on the upstream channel's loop; completions hop back to the client's loop, and body bytes are
 * written to the client channel from the listener (Netty queues them in order). Backpressure: the upstream is not
 * read while a body chunk's write to the client is pending.
 */
final class ImapMaildrop implements Pop3Maildrop {
    private static final Logger log = LoggerFactory.getLogger(ImapMaildrop.class);
    private static final Pattern UIDVALIDITY = Pattern.compile("\\[UIDVALIDITY (\\d+)\\]", Pattern.CASE_INSENSITIVE);
    private static final Pattern BODY_LITERAL =
            Pattern.compile("BODY\\[([A-Z]*)\\](?:<\\d+>)? ?~?\\{(\\d+)\\+?\\}$", Pattern.CASE_INSENSITIVE);
    private static final Pattern BODY_EMPTY =
            Pattern.compile("BODY\\[([A-Z]*)\\](?:<\\d+>)? (NIL|\"\")", Pattern.CASE_INSENSITIVE);
    /** Longest UID set put in one command (Office 365 and Dovecot accept far longer lines). */
    private static final int MAX_SET_LENGTH = 4000;
    /** Hand over before a command when the token has less than this left. */
    private static final Duration HAND_OVER_MARGIN = Duration.ofMinutes(1);
    private static final List<String> SPECIAL_USE =
            List.of("\\ALL", "\\ARCHIVE", "\\DRAFTS", "\\FLAGGED", "\\JUNK", "\\SENT", "\\TRASH");

    /** Replaced by a hand-over; only touched on the client loop (listeners capture their own). */
    private Lease lease;
    private ImapClient imap;
    private final CoreServices services;
    private final AccountConfig accountConfig;
    private final Channel client;
    private final EventLoop clientLoop;
    private final Pop3Settings settings;
    private final Pop3Policy policy;
    private final String sessionId;
    private final String account;
    private final boolean hasMove;

    // the listing, fixed at login
    private long uidValidity;
    private long[] uids = new long[0];
    private long[] sizes = new long[0];
    private final BitSet deleted = new BitSet();
    /** The resolved destination of on-delete = move:FOLDER, encoded and quoted for the wire. */
    private String moveTarget;

    private boolean ended;
    private boolean released;
    /** The upstream connection ended between commands: the next command that needs it hands over first. */
    private boolean lost;
    private boolean inFlight;
    /** True once part of a multi-line body went to the client for the current command. */
    private volatile boolean inBody;

    private ImapMaildrop(CoreServices services, AccountConfig accountConfig, Lease lease, Channel client,
            Pop3Settings settings, Pop3Policy policy, String sessionId, String account) {
        this.services = services;
        this.accountConfig = accountConfig;
        this.lease = lease;
        this.client = client;
        this.clientLoop = client.eventLoop();
        this.settings = settings;
        this.policy = policy;
        this.sessionId = sessionId;
        this.account = account;
        this.hasMove = lease.session().hasCapability("MOVE");
        this.imap = attach(lease);
        watch(imap);
    }

    private static ImapClient attach(Lease lease) {
        return ImapClient.attach(lease.session().channel(), "pop",
                ImapResponseDecoder.DEFAULT_MAX_LINE_LENGTH, ImapClient.DEFAULT_MAX_COLLECTED);
    }

    /**
     * Keeps one read pending between commands, so a BYE and the close that follows are seen when they happen, not
     * when the next command fails (ImapClient reads only while a command runs; AUTO_READ stays off).
     */
    private void listenWhileIdle() {
        imap.channel().read();
    }

    /** Notices an upstream that ends between commands (Office 365 ends a session when its token expires). */
    private void watch(ImapClient watched) {
        // between commands: read on after each unsolicited response (EXISTS, BYE...) until the close is seen
        watched.onUnsolicited(new ImapResponseListener() {
            @Override
            public void untagged(ImapResponseLine line) {
                if (line.endsResponse()) {
                    watched.channel().read();
                }
            }
        });
        watched.channel().closeFuture().addListener(f -> clientLoop.execute(() -> {
            if (watched != imap || ended || inFlight || lost) {
                return; // replaced, finished, or a running command reports it
            }
            lost = true;
            log.info("{} POP3-over-IMAP upstream of account {} ended between commands{}; handing over at the next "
                    + "command", sessionId, account, watched.byeText() == null ? "" : " (" + watched.byeText() + ")");
            endUpstream(true);
        }));
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
                maildrop = new ImapMaildrop(services, login.account(), lease, client, settings, policy, sessionId, account);
            } catch (RuntimeException e) {
                lease.discard();
                return CompletableFuture.failedFuture(e);
            }
            return maildrop.load().handle((ignored, error) -> {
                if (error != null) {
                    maildrop.endUpstream(!(unwrap(error) instanceof Pop3ReplyException));
                    throw error instanceof CompletionException ce ? ce : new CompletionException(error);
                }
                maildrop.listenWhileIdle();
                return maildrop;
            });
        });
    }

    /** on-delete = expunge, and move without MOVE, need UID EXPUNGE: never a plain EXPUNGE (RFC 4315 section 2.1). */
    private static void checkCapabilities(Lease lease, Pop3Policy policy, String account) throws Pop3ReplyException {
        OnDelete.Kind kind = policy.onDelete().kind();
        boolean needsUidExpunge = kind == OnDelete.Kind.EXPUNGE
                || (kind == OnDelete.Kind.MOVE && !lease.session().hasCapability("MOVE"));
        if (needsUidExpunge && !lease.session().hasCapability("UIDPLUS")) {
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
        EventLoop loop = imap.channel().eventLoop();
        CompletableFuture<Void> resolved = CompletableFuture.completedFuture(null);
        if (policy.onDelete().kind() == OnDelete.Kind.MOVE) {
            String folder = policy.onDelete().moveTo().orElseThrow();
            if (folder.startsWith("\\")) {
                resolved = imap.execute("LIST \"\" \"*\"").thenAcceptAsync(c -> resolveSpecialUse(folder, c), loop);
            } else {
                moveTarget = ModifiedUtf7.quoted(folder);
            }
        }
        boolean readOnly = policy.onDelete().kind() == OnDelete.Kind.KEEP;
        String select = (readOnly ? "EXAMINE " : "SELECT ") + ModifiedUtf7.quoted(policy.folder());
        return resolved
                .thenComposeAsync(v -> imap.execute(select), loop)
                .thenComposeAsync(c -> {
                    if (!c.isOk()) {
                        throw new CompletionException(new Pop3ReplyException(
                                Pop3Response.err("[SYS/PERM] Folder " + policy.folder() + " is not available upstream"),
                                "IMAP " + select + " failed for account " + account + ": " + c.status() + " " + c.text()));
                    }
                    uidValidity = c.untagged().stream()
                            .map(r -> UIDVALIDITY.matcher(r.text()))
                            .filter(Matcher::find)
                            .mapToLong(m -> Long.parseLong(m.group(1)))
                            .findFirst()
                            .orElseThrow(() -> new CompletionException(new UpstreamException(
                                    UpstreamException.Kind.PROTOCOL_ERROR, "no UIDVALIDITY in the SELECT reply")));
                    return imap.execute(policy.onlyUnseen() ? "UID SEARCH UNSEEN" : "UID SEARCH ALL");
                }, loop)
                .thenComposeAsync(c -> {
                    expectOk(c, "UID SEARCH");
                    long[] found = c.all("SEARCH").stream()
                            .flatMap(r -> r.values().stream().skip(1))
                            .filter(v -> v instanceof ImapValue.Atom)
                            .mapToLong(v -> parseLongOr(((ImapValue.Atom) v).value(), -1))
                            .filter(n -> n > 0)
                            .sorted()
                            .distinct()
                            .toArray();
                    if (found.length == 0) {
                        return CompletableFuture.completedFuture(null);
                    }
                    long[] sizesByUid = new long[found.length];
                    Arrays.fill(sizesByUid, -1);
                    ImapResponseListener listener = new ImapResponseListener() {
                        @Override
                        public void untagged(ImapResponseLine line) {
                            if (line.isFirst() && line.endsResponse()) {
                                sizeLine(line, found, sizesByUid);
                            }
                        }
                    };
                    return imap.execute("UID FETCH 1:* (UID RFC822.SIZE)", listener).thenAccept(done -> {
                        expectOk(done, "UID FETCH");
                        int n = 0;
                        for (long s : sizesByUid) {
                            if (s >= 0) {
                                n++;
                            }
                        }
                        long[] u = new long[n];
                        long[] z = new long[n];
                        int j = 0;
                        for (int i = 0; i < found.length; i++) {
                            if (sizesByUid[i] >= 0) {
                                u[j] = found[i];
                                z[j++] = sizesByUid[i];
                            }
                        }
                        uids = u;
                        sizes = z;
                    });
                }, loop)
                .thenRun(() -> log.debug("{} POP3 maildrop {} of account {}: {} messages, UIDVALIDITY {}",
                        sessionId, policy.folder(), account, uids.length, uidValidity));
    }

    /** {@code * 3 FETCH (UID 45 RFC822.SIZE 1234)}: records the size when the UID is in the maildrop. */
    private static void sizeLine(ImapResponseLine line, long[] found, long[] sizesByUid) {
        ByteBuf buf = line.content();
        byte[] raw = new byte[buf.readableBytes()];
        buf.getBytes(buf.readerIndex(), raw);
        ImapResponse response = new ImapResponse(null, raw);
        if (!response.isA("FETCH")) {
            return;
        }
        long uid = -1;
        long size = -1;
        for (ImapValue v : response.values()) {
            if (v instanceof ImapValue.Parens p) {
                List<ImapValue> items = p.items();
                for (int i = 0; i + 1 < items.size(); i++) {
                    if (items.get(i) instanceof ImapValue.Atom key && items.get(i + 1) instanceof ImapValue.Atom val) {
                        if (key.is("UID")) {
                            uid = parseLongOr(val.value(), -1);
                        } else if (key.is("RFC822.SIZE")) {
                            size = parseLongOr(val.value(), -1);
                        }
                    }
                }
            }
        }
        int index = uid < 0 ? -1 : Arrays.binarySearch(found, uid);
        if (index >= 0 && size >= 0) {
            sizesByUid[index] = size;
        }
    }

    private void resolveSpecialUse(String use, ImapCompletion list) {
        expectOk(list, "LIST");
        String wanted = use.toUpperCase(Locale.ROOT);
        if (!SPECIAL_USE.contains(wanted)) {
            throw new CompletionException(new Pop3ReplyException(
                    Pop3Response.err("[SYS/PERM] Misconfigured on-delete folder"),
                    "on-delete move:" + use + " is not an RFC 6154 special-use name"));
        }
        for (ImapResponse r : list.all("LIST")) {
            List<ImapValue> v = r.values();
            // LIST (attributes) delimiter name
            if (v.size() >= 4 && v.get(1) instanceof ImapValue.Parens attrs
                    && attrs.items().stream().anyMatch(a -> a instanceof ImapValue.Atom atom && atom.is(wanted))) {
                String wire = v.get(3).asText();
                if (wire != null) {
                    moveTarget = '"' + wire.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
                    log.debug("{} on-delete move:{} resolved to {}", sessionId, use, ModifiedUtf7.decode(wire));
                    return;
                }
            }
        }
        throw new CompletionException(new Pop3ReplyException(
                Pop3Response.err("[SYS/PERM] The folder for deleted messages does not exist upstream"),
                "on-delete move:" + use + ": no folder of account " + account + " has the " + use
                        + " special-use attribute (RFC 6154)"));
    }

    // ---- Pop3Maildrop ---------------------------------------------------------------------------------------------

    @Override
    public String greeting() {
        return "maildrop has " + count() + " messages (" + octets() + " octets)";
    }

    @Override
    public List<String> capabilities() {
        return List.of("TOP", "UIDL");
    }

    @Override
    public void execute(Pop3Command command, Runnable done) {
        inBody = false;
        if (ended) {
            done.run();
            return;
        }
        switch (command.verb()) {
            case STAT -> reply(Pop3Response.ok(count() + " " + octets()), done);
            case NOOP -> reply(Pop3Response.ok(""), done);
            case RSET -> {
                deleted.clear();
                reply(Pop3Response.ok(greeting()), done);
            }
            case LIST -> listing(command, i -> Long.toString(sizes[i]), done);
            case UIDL -> listing(command, i -> uidValidity + "." + uids[i], done);
            case DELE -> {
                int i = index(command.message());
                if (i < 0) {
                    reply(noSuchMessage(command.message()), done);
                } else {
                    deleted.set(i);
                    reply(Pop3Response.ok("message " + command.message() + " deleted"), done);
                }
            }
            case RETR, TOP -> {
                int i = index(command.message());
                if (i < 0) {
                    reply(noSuchMessage(command.message()), done);
                } else if (command.verb() == Pop3Command.Verb.RETR) {
                    withUpstream(() -> retr(command.message(), uids[i], done));
                } else {
                    withUpstream(() -> top(command.message(), uids[i], command.lines(), done));
                }
            }
            case QUIT -> quit(done);
        }
    }

    private void listing(Pop3Command command, java.util.function.IntFunction<String> value, Runnable done) {
        if (command.message() != 0) {
            int i = index(command.message());
            reply(i < 0 ? noSuchMessage(command.message()) : Pop3Response.ok(command.message() + " " + value.apply(i)),
                    done);
            return;
        }
        client.write(Pop3Response.ok(count() + " messages (" + octets() + " octets)"));
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < uids.length; i++) {
            if (!deleted.get(i)) {
                b.append(i + 1).append(' ').append(value.apply(i)).append("\r\n");
                if (b.length() >= 16 * 1024) {
                    client.write(Pop3Data.ascii(b));
                    b.setLength(0);
                }
            }
        }
        if (b.length() > 0) {
            client.write(Pop3Data.ascii(b));
        }
        client.writeAndFlush(Pop3Data.END).addListener(f -> done.run());
    }

    // ---- RETR and TOP ---------------------------------------------------------------------------------------------

    private void retr(int number, long uid, Runnable done) {
        BodyStream body = new BodyStream("", Long.MAX_VALUE);
        command("UID FETCH " + uid + " (BODY.PEEK[])", body, c -> {
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
        BodyStream header = new BodyStream("HEADER", Long.MAX_VALUE);
        command("UID FETCH " + uid + " (BODY.PEEK[HEADER])", header, c -> {
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
        BodyStream text = new BodyStream("TEXT", linesLeft);
        text.started = true; // the status line went out with the header
        command("UID FETCH " + uid + " (BODY.PEEK[TEXT]<" + offset + "." + length + ">)", text, c -> {
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

    private static boolean expungeIssued(ImapCompletion c) {
        return c.responseCode().filter(code -> code.equalsIgnoreCase("EXPUNGEISSUED")).isPresent();
    }

    /**
     * Streams the literal of {@code BODY[section]} to the client as {@link Pop3Data}, writing {@code +OK} before the
     * first byte; with a line budget, stops after that many lines. Runs on the upstream loop.
     */
    private final class BodyStream implements ImapResponseListener {
        private final String section;
        private final ImapClient up = imap;
        /** Written on the upstream loop, read after the command's completion hopped to the client loop. */
        long linesLeft;
        boolean started;
        long literalLength = -1;
        /** The body came as "" or {0}: an empty message, unless the tagged reply says it was expunged. */
        private boolean empty;
        private boolean streaming;
        private int pendingWrites;
        /** The last four bytes streamed, newest in the low byte. */
        private int tail;
        private long streamed;

        BodyStream(String section, long linesLeft) {
            this.section = section;
            this.linesLeft = linesLeft;
        }

        @Override
        public void untagged(ImapResponseLine line) {
            if (line.endsResponse() && !streaming) {
                // BODY[TEXT]<n> "" or NIL: an empty piece; the +OK of an empty message waits for the tagged reply
                // (emptyMessage), as NIL and [EXPUNGEISSUED] mean another client removed it
                Matcher m = BODY_EMPTY.matcher(line.text());
                if (literalLength < 0 && m.find() && m.group(1).equalsIgnoreCase(section)) {
                    literalLength = 0;
                    empty = m.group(2).equals("\"\"");
                }
                return;
            }
            streaming = false;
            if (line.literalLength() >= 0) {
                Matcher m = BODY_LITERAL.matcher(line.text());
                if (m.find() && m.group(1).equalsIgnoreCase(section) && literalLength < 0) {
                    literalLength = line.literalLength();
                    streaming = true;
                    empty = literalLength == 0;
                    if (!empty) {
                        begin(literalLength);
                    }
                }
            }
        }

        /**
         * After the tagged reply, on the client loop, when nothing was streamed: true (and the +OK written) for a
         * message that is really empty; false when it was removed upstream (NIL, no body, NO, [EXPUNGEISSUED]).
         */
        boolean emptyMessage(ImapCompletion c) {
            if (!empty || !c.isOk() || expungeIssued(c)) {
                return false;
            }
            begin(0);
            return true;
        }

        /** What the streamed header lacks of its CRLF CRLF ending (read after the command completed). */
        String missingHeaderEnd() {
            if (streamed == 0) {
                return "";
            }
            if (streamed >= 4 && tail == 0x0d0a0d0a) {
                return "";
            }
            return (tail & 0xffff) == 0x0d0a ? "\r\n" : "\r\n\r\n";
        }

        private void begin(long octets) {
            if (!started) {
                started = true;
                inBody = true;
                client.write(Pop3Response.ok(section.isEmpty() ? octets + " octets" : "top of message follows"));
            }
        }

        @Override
        public void literal(ImapLiteralChunk chunk) {
            if (!streaming) {
                return;
            }
            if (chunk.isLast()) {
                streaming = false;
            }
            ByteBuf data = chunk.content();
            if (linesLeft <= 0 || !data.isReadable()) {
                return;
            }
            int end = data.writerIndex();
            if (linesLeft != Long.MAX_VALUE) {
                int i = data.readerIndex();
                while (linesLeft > 0) {
                    int lf = data.indexOf(i, data.writerIndex(), (byte) '\n');
                    if (lf < 0) {
                        break;
                    }
                    linesLeft--;
                    i = lf + 1;
                    if (linesLeft == 0) {
                        end = i;
                    }
                }
            }
            for (int i = Math.max(data.readerIndex(), end - 4); i < end; i++) {
                tail = (tail << 8) | (data.getByte(i) & 0xff);
            }
            streamed += end - data.readerIndex();
            ByteBuf slice = data.retainedSlice(data.readerIndex(), end - data.readerIndex());
            pendingWrites++;
            EventLoop upstreamLoop = up.channel().eventLoop();
            client.writeAndFlush(new Pop3Data(slice)).addListener(f -> upstreamLoop.execute(() -> {
                // read on as soon as the client can take more (not only when everything is out): several chunks
                // in flight keep both sockets busy; the client's write-buffer water marks still bound the memory
                if (--pendingWrites == 0 || client.isWritable()) {
                    up.resumeReading();
                }
            }));
            if (!client.isWritable()) {
                up.suspendReading();
            }
        }
    }

    // ---- UPDATE ---------------------------------------------------------------------------------------------------

    /** RFC 1939 section 6: QUIT in TRANSACTION enters UPDATE and applies on-delete to the DELE'd messages only. */
    @Override
    public void quit(Runnable done) {
        inBody = false;
        if (ended) {
            done.run();
            return;
        }
        List<Long> marked = new ArrayList<>();
        for (int i = deleted.nextSetBit(0); i >= 0; i = deleted.nextSetBit(i + 1)) {
            marked.add(uids[i]);
        }
        OnDelete onDelete = policy.onDelete();
        List<String> commands = new ArrayList<>();
        if (!marked.isEmpty()) {
            for (String set : uidSets(marked)) {
                switch (onDelete.kind()) {
                    case KEEP -> { }
                    case SEEN -> commands.add("UID STORE " + set + " +FLAGS.SILENT (\\Seen)");
                    case EXPUNGE -> {
                        commands.add("UID STORE " + set + " +FLAGS.SILENT (\\Deleted)");
                        commands.add("UID EXPUNGE " + set);
                    }
                    case MOVE -> {
                        if (hasMove) {
                            commands.add("UID MOVE " + set + " " + moveTarget);
                        } else {
                            commands.add("UID COPY " + set + " " + moveTarget);
                            commands.add("UID STORE " + set + " +FLAGS.SILENT (\\Deleted)");
                            commands.add("UID EXPUNGE " + set);
                        }
                    }
                }
            }
        }
        int count = marked.size();
        Runnable apply = () -> update(commands, 0, () -> {
            log.info("{} POP3 QUIT: on-delete {} applied to {} messages of account {}", sessionId,
                    describe(onDelete), count, account);
            endUpstream(false);
            ended = true;
            client.writeAndFlush(Pop3Response.ok("mailproxy POP3 signing off"
                    + (count == 0 ? "" : " (" + count + " messages " + done(onDelete) + ")")))
                    .addListener(f -> done.run());
        }, done);
        if (commands.isEmpty()) {
            apply.run();
        } else {
            withUpstream(apply);
        }
    }

    // ---- hand-over ------------------------------------------------------------------------------------------------

    /**
     * Runs {@code action} on a usable upstream. At a command boundary, an upstream that ended (token expired) or whose
     * token expires within a minute is replaced by a fresh lease that selects the same folder; the listing stays the
     * client's, so only UIDVALIDITY must be unchanged. Event loop (client) only.
     */
    private void withUpstream(Runnable action) {
        Optional<Instant> expires = lease.session().tokenExpiresAt();
        boolean expiring = !lost && expires.isPresent()
                && services.clock().instant().plus(HAND_OVER_MARGIN).isAfter(expires.get());
        if (!lost && !expiring) {
            action.run();
            return;
        }
        if (expiring) {
            log.info("{} POP3-over-IMAP token of account {} expires at {}: handing over to a fresh connection",
                    sessionId, account, expires.get());
            endUpstream(false);
        }
        inFlight = true;
        String select = (policy.onDelete().kind() == OnDelete.Kind.KEEP ? "EXAMINE " : "SELECT ")
                + ModifiedUtf7.quoted(policy.folder());
        services.pools().acquire(accountConfig, Protocol.IMAP).thenCompose(fresh -> {
            ImapClient next;
            try {
                next = attach(fresh);
            } catch (RuntimeException e) {
                fresh.discard();
                throw e;
            }
            return next.execute(select).handle((c, e) -> {
                long validity = c == null || !c.isOk() ? -1 : c.untagged().stream()
                        .map(r -> UIDVALIDITY.matcher(r.text())).filter(Matcher::find)
                        .mapToLong(m -> Long.parseLong(m.group(1))).findFirst().orElse(-1);
                if (validity != uidValidity) {
                    fresh.discard();
                    throw new CompletionException(new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR,
                            "hand-over failed: " + (e != null ? unwrap(e).toString() : c.isOk()
                                    ? "UIDVALIDITY changed from " + uidValidity + " to " + validity
                                    : select + " answered " + c.status() + " " + c.text())));
                }
                return Map.entry(fresh, next);
            });
        }).whenComplete((pair, e) -> clientLoop.execute(() -> {
            inFlight = false;
            if (ended) {
                if (pair != null) {
                    pair.getKey().discard();
                }
                return;
            }
            if (e != null) {
                fatal(unwrap(e).toString(), unwrap(e));
                return;
            }
            lease = pair.getKey();
            imap = pair.getValue();
            released = false;
            lost = false;
            watch(imap);
            listenWhileIdle();
            log.info("{} POP3-over-IMAP session of account {} handed over to a fresh connection", sessionId, account);
            action.run();
        }));
    }

    private void update(List<String> commands, int next, Runnable success, Runnable done) {
        if (next == commands.size()) {
            success.run();
            return;
        }
        String command = commands.get(next);
        command(command, null, c -> {
            if (!c.isOk()) {
                log.warn("{} POP3 QUIT: {} failed for account {}: {} {}", sessionId, command.split(" ", 3)[1], account,
                        c.status(), c.text());
                ended = true;
                endUpstream(true);
                client.writeAndFlush(Pop3Response.err("[SYS/TEMP] Some deleted messages not removed"))
                        .addListener(f -> done.run());
                return;
            }
            update(commands, next + 1, success, done);
        });
    }

    private static String describe(OnDelete onDelete) {
        return onDelete.kind() == OnDelete.Kind.MOVE
                ? "move:" + onDelete.moveTo().orElse("")
                : onDelete.kind().name().toLowerCase(Locale.ROOT);
    }

    private static String done(OnDelete onDelete) {
        return switch (onDelete.kind()) {
            case EXPUNGE -> "deleted";
            case KEEP -> "kept";
            case SEEN -> "marked read";
            case MOVE -> "moved";
        };
    }

    /** UIDs (ascending) as sequence sets ({@code 1:5,7}), each at most MAX_SET_LENGTH characters. */
    static List<String> uidSets(List<Long> ascending) {
        List<String> sets = new ArrayList<>();
        StringBuilder b = new StringBuilder();
        int i = 0;
        while (i < ascending.size()) {
            long first = ascending.get(i);
            long last = first;
            while (i + 1 < ascending.size() && ascending.get(i + 1) == last + 1) {
                last = ascending.get(++i);
            }
            i++;
            String range = first == last ? Long.toString(first) : first + ":" + last;
            if (b.length() > 0 && b.length() + 1 + range.length() > MAX_SET_LENGTH) {
                sets.add(b.toString());
                b.setLength(0);
            }
            if (b.length() > 0) {
                b.append(',');
            }
            b.append(range);
        }
        if (b.length() > 0) {
            sets.add(b.toString());
        }
        return sets;
    }

    @Override
    public void abandon() {
        if (ended) {
            return;
        }
        ended = true;
        // nothing was changed upstream before QUIT; a clean channel goes back to the pool (it resets SELECTED)
        clientLoopOrNow(() -> endUpstream(false));
    }

    // ---- plumbing -------------------------------------------------------------------------------------------------

    /** Releases the lease once: back to the pool when clean and idle, closed otherwise. */
    private void endUpstream(boolean dirty) {
        if (released) {
            return;
        }
        released = true;
        ImapClient ending = imap;
        Lease leased = lease;
        Channel channel = ending.channel();
        channel.eventLoop().execute(() -> {
            boolean clean = !dirty && channel.isActive() && ending.isIdle();
            if (clean) {
                ending.detach();
                channel.config().setAutoRead(false);
                leased.release(false);
            } else {
                leased.discard();
            }
        });
    }

    /** Runs an upstream command with a time limit; {@code then} runs on the client loop with an OK/NO/BAD completion. */
    private void command(String command, ImapResponseListener listener, Consumer<ImapCompletion> then) {
        ScheduledFuture<?> timeout = clientLoop.schedule(
                () -> fatal("no reply to \"" + command + "\" within " + settings.upstreamTimeout(), null),
                settings.upstreamTimeout().toMillis(), TimeUnit.MILLISECONDS);
        inFlight = true;
        CompletableFuture<ImapCompletion> f = listener == null ? imap.execute(command) : imap.execute(command, listener);
        // always a new task (see load()): the next command must not be issued inside this completion
        f.whenComplete((c, e) -> clientLoop.execute(() -> {
            timeout.cancel(false);
            inFlight = false;
            if (ended) {
                return;
            }
            listenWhileIdle();
            if (e != null) {
                Throwable cause = unwrap(e);
                fatal(cause.toString(), cause);
                return;
            }
            then.accept(c);
        }));
    }

    /** The upstream is gone or unusable: -ERR [SYS/TEMP] and close (only close if a body is half sent). */
    private void fatal(String why, Throwable cause) {
        if (ended) {
            return;
        }
        ended = true;
        String bye = imap.byeText();
        log.warn("{} POP3-over-IMAP upstream of account {} failed: {}{}; closing the session", sessionId, account, why,
                bye == null || why.contains(bye) || why.contains("hand-over") ? "" : " (upstream said: " + bye + ")");
        endUpstream(true);
        if (inBody) {
            client.close();
        } else {
            client.writeAndFlush(Pop3Response.err("[SYS/TEMP] Lost the connection to the mail server, try again later"))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }

    private void reply(Pop3Response response, Runnable done) {
        client.writeAndFlush(response).addListener(f -> done.run());
    }

    private void clientLoopOrNow(Runnable task) {
        if (clientLoop.inEventLoop()) {
            task.run();
        } else {
            clientLoop.execute(task);
        }
    }

    private int index(int number) {
        int i = number - 1;
        return i >= 0 && i < uids.length && !deleted.get(i) ? i : -1;
    }

    private static Pop3Response noSuchMessage(int number) {
        return Pop3Response.err("No such message: " + number);
    }

    private int count() {
        return uids.length - deleted.cardinality();
    }

    private long octets() {
        long sum = 0;
        for (int i = 0; i < sizes.length; i++) {
            if (!deleted.get(i)) {
                sum += sizes[i];
            }
        }
        return sum;
    }

    private static void expectOk(ImapCompletion c, String what) {
        if (!c.isOk()) {
            throw new CompletionException(new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR,
                    what + " failed", c.status() + " " + c.text(), null));
        }
    }

    private static long parseLongOr(String s, long fallback) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    private static Throwable unwrap(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
