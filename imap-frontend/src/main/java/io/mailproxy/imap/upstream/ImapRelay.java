package io.mailproxy.imap.upstream;

import io.mailproxy.core.runtime.SessionLog;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.imap.ImapLiteralChunk;
import io.mailproxy.core.imap.ImapResponseDecoder;
import io.mailproxy.core.imap.ImapResponseLine;
import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.core.pool.Lease;
import io.mailproxy.core.pool.UpstreamPools;
import io.mailproxy.core.spi.ShutdownEvent;
import io.mailproxy.imap.ImapSettings;
import io.mailproxy.imap.codec.ImapCommandDecoder;
import io.mailproxy.imap.codec.ImapCommandError;
import io.mailproxy.imap.codec.ImapCommandLine;
import io.mailproxy.imap.policy.ClientPolicy;
import io.mailproxy.imap.session.ImapState;
import io.mailproxy.imap.upstream.CommandTracker.InFlight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.CompletionException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Relays a logged-in IMAP session between the client and a leased upstream connection, both ways, streaming and
 * with backpressure (AUTO_READ off on both; a side is read only while the other is writable). It tracks command
 * boundaries (tags, literals, continuations, IDLE/DONE) on the client side and response boundaries with core's
 * {@link ImapResponseDecoder} on the upstream side, so it always knows when the upstream is idle.
 *
 * <p>Client tags pass through unchanged. LOGOUT is answered here and the lease released (dirty after ENABLE,
 * NOTIFY and the like, or discarded when a command was in flight); an upstream that drops or says BYE gives the
 * client {@code * BYE [UNAVAILABLE]}. All state lives on the client channel's event loop; upstream events hop there.
 */
public final class ImapRelay {

    public static final String CLIENT_HANDLER = "imap-relay";
    static final String UPSTREAM_DECODER = "imap-response-decoder";
    static final String UPSTREAM_HANDLER = "imap-relay-upstream";

    private static final Logger LOG = LoggerFactory.getLogger(ImapRelay.class);
    /** Commands that change session state the pool cannot reset (RFC 5161, 5465, 5255, 5267). */
    private static final Set<String> DIRTYING = Set.of("ENABLE", "NOTIFY", "LANGUAGE", "COMPARATOR", "CONTEXT",
            "CANCELUPDATE");
    /** Words that turn on CONDSTORE/QRESYNC for the rest of the session (RFC 7162 section 3.1). */
    private static final java.util.regex.Pattern ENABLES_CONDSTORE = java.util.regex.Pattern.compile(
            "(?i)\\b(CONDSTORE|QRESYNC|CHANGEDSINCE|UNCHANGEDSINCE|MODSEQ)\\b");

    private final Channel client;
    private Channel upstream;
    private Lease lease;
    /** Anything went upstream on this lease (a client command, or a hand-over's SELECT): the pool must reset it. */
    private boolean upstreamUsed;
    private final ImapCommandDecoder decoder;
    private final ClientPolicy policy;
    private final ResponseFilter filter;
    private final ImapSettings settings;
    private final String sessionId;
    private final UpstreamPools pools;
    private final AccountConfig account;
    private final Handover handover;

    private final ArrayDeque<Object> backlog = new ArrayDeque<>();
    private final CommandTracker tracker;
    /** The proxy's own replies (refusals, "+" for the client's literals) held while an upstream response is relayed. */
    private final ArrayDeque<ByteBuf> localOut = new ArrayDeque<>();

    private final SelectedMailbox mailbox = new SelectedMailbox();
    private Cmd cmd;
    private boolean idling;
    /** IDLE sent, the upstream's "+" not yet seen: client input waits (it may refuse IDLE). */
    private boolean idlePending;
    private boolean dirty;
    private boolean finished;
    private String logoutTag;
    private boolean shutdownPending;
    private boolean draining;
    private ScheduledFuture<?> idleTimer;
    /** When the upstream last sent anything, or a command was sent with none running (the event loop's ticker). */
    private long lastProgress;

    // token hand-over state
    /** Commands refused for a limit (line, literal) in this session: only some are logged at INFO. */
    private int refusedCommands;
    /** Such refusals since the last command that was not refused; at {@link #MAX_REFUSED_IN_A_ROW} the session ends. */
    private int refusedInARow;
    private static final int MAX_REFUSED_IN_A_ROW = 20;
    private boolean handingOver;

    // upstream response state
    private boolean upInResponse;
    private InFlight taggedFor;

    private ImapRelay(Channel client, ImapCommandDecoder decoder, Lease lease, ClientPolicy policy, ImapSettings settings,
                      String sessionId, UpstreamPools pools, AccountConfig account, Clock clock) {
        this.pools = pools;
        this.account = account;
        this.handover = new Handover(settings, pools, account, clock);
        this.client = client;
        this.decoder = decoder;
        this.lease = lease;
        this.upstream = lease.session().channel();
        this.policy = policy;
        this.settings = settings;
        this.sessionId = sessionId;
        this.filter = new ResponseFilter(policy, settings.maxFilteredResponse(), sessionId);
        this.tracker = new CommandTracker(this::toUpstream, policy.readOnly() || policy.restrictsFolders());
        tracker.upstreamLiteralPlus(lease.session().hasCapability("LITERAL+"));
    }

    /**
     * Starts relaying. Called on the client's event loop after login; the caller has removed its own handler (or
     * replaces {@code replacedHandler} with the relay) and passes the messages it decoded but did not yet handle.
     */
    public static ImapRelay start(Channel client, String replacedHandler, ImapCommandDecoder decoder, Lease lease,
                                  ClientPolicy policy, ImapSettings settings, String sessionId, List<Object> pending,
                                  UpstreamPools pools, AccountConfig account, Clock clock) {
        ImapRelay relay = new ImapRelay(client, decoder, lease, policy, settings, sessionId, pools, account, clock);
        relay.backlog.addAll(pending);
        decoder.setMaxLiteral(settings.maxLiteral());
        client.pipeline().replace(replacedHandler, CLIENT_HANDLER, relay.new ClientSide());
        relay.addRelayHandlers(relay.upstream);
        relay.touch();
        relay.scheduleExpiry();
        if (!relay.upstream.isActive()) {
            relay.upstreamLost("upstream connection closed before the relay started");
            return relay;
        }
        relay.upstream.read();
        relay.drainBacklog();
        return relay;
    }

    public ImapState state() {
        return mailbox.state();
    }

    // ---------------------------------------------------------------- client side

    private void onClient(Object msg) {
        if (finished) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (paused() || !backlog.isEmpty() && !draining) {
            backlog.add(msg);
            return;
        }
        try {
            if (msg instanceof ImapCommandLine seg) {
                onSegment(seg);
            } else if (msg instanceof ImapLiteralChunk chunk) {
                onLiteral(chunk);
            } else if (msg instanceof ImapCommandError err) {
                onError(err);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private boolean paused() {
        return logoutTag != null || tracker.gated() || handingOver || idlePending;
    }

    private void addRelayHandlers(Channel ch) {
        ch.pipeline().addLast(UPSTREAM_DECODER, new ImapResponseDecoder(Math.max(settings.maxLineLength(),
                ImapResponseDecoder.DEFAULT_MAX_LINE_LENGTH)));
        ch.pipeline().addLast(UPSTREAM_HANDLER, new UpstreamSide(ch));
    }

    private static void removeRelayHandlers(Channel ch) {
        if (ch.pipeline().get(UPSTREAM_HANDLER) != null) {
            ch.pipeline().remove(UPSTREAM_HANDLER);
        }
        if (ch.pipeline().get(UPSTREAM_DECODER) != null) {
            ch.pipeline().remove(UPSTREAM_DECODER);
        }
    }

    private void drainBacklog() {
        draining = true;
        try {
            while (!backlog.isEmpty() && !paused() && !finished) {
                onClient(backlog.poll());
            }
        } finally {
            draining = false;
        }
        if (finished) {
            backlog.forEach(ReferenceCountUtil::release);
            backlog.clear();
        } else if (backlog.isEmpty() && !paused()) {
            upstream.flush();
            if (upstream.isWritable() && client.isWritable()) {
                client.read();
            }
        }
    }

    private void onSegment(ImapCommandLine seg) {
        if (seg.isFirst()) {
            touch();
            if (idling) {
                // RFC 2177: only DONE may come while idling; anything else is a protocol violation
                if (!seg.endsCommand() || !seg.text().trim().equalsIgnoreCase("DONE")) {
                    LOG.info("{} IMAP client sent something other than DONE during IDLE", sessionId);
                    SessionLog.outcome(client, "protocol-error");
                    client.write(ascii("* BAD Expected DONE\r\n"));
                    goodbye("* BYE Protocol error, closing\r\n", true);
                    return;
                }
                idling = false;
                writeUpstream(seg.content().retain());
                return;
            }
            String text = seg.text();
            String[] words = text.split(" ", 4);
            String tag = words[0];
            String name = words.length > 1 ? stripLiteral(words[1]).toUpperCase(Locale.ROOT) : "";
            if (name.equals("UID") && words.length > 2) {
                name = "UID " + stripLiteral(words[2]).toUpperCase(Locale.ROOT);
            }
            String refusal = switch (name) {
                case "LOGIN", "AUTHENTICATE" -> "BAD Already logged in";
                case "STARTTLS" -> "BAD STARTTLS is only valid before login";
                case "COMPRESS" -> "NO [CANNOT] COMPRESS is not available through this proxy";
                case "UNAUTHENTICATE" -> "NO [CANNOT] UNAUTHENTICATE is not available through this proxy";
                default -> null;
            };
            cmd = new Cmd(tag, name);
            if (refusal != null) {
                cmd.mode = Mode.DISCARD;
                cmd.reply = refusal;
            } else if (name.equals("LOGOUT")) {
                if (!seg.endsCommand()) {
                    cmd.mode = Mode.DISCARD;
                    cmd.reply = "BAD LOGOUT takes no arguments";
                } else {
                    cmd = null;
                    logoutTag = tag;
                    tryFinish();
                    return;
                }
            }
        }
        if (cmd == null) {
            return; // a stray segment after a refused command
        }
        if (cmd.mode == Mode.STREAM && cmd.name.equals("APPEND") && policy.restrictsFolders()
                && !policy.allowsAppendContinuation(parse(seg.content()))) {
            // the command's start is upstream already and cannot be taken back: end it there by closing, here with
            // NO, so no message is appended from a mailbox this client may not read
            LOG.info("{} IMAP APPEND refused by policy: a CATENATE URL outside the allowed folders after a streamed"
                    + " literal; closing the session", sessionId);
            SessionLog.outcome(client, "policy");
            String tag = cmd.tag;
            if (tracker.isInFlight(tag)) {
                // only if the upstream has not already completed the command (a NO mid-literal, say): one reply
                client.write(ascii(tag + " NO [NOPERM] This client may not access that mailbox\r\n"));
            }
            cmd.releaseParts();
            cmd = null;
            goodbye("* BYE Command refused, closing\r\n", true);
            return;
        }
        if (seg.endsCommand()) {
            switch (cmd.mode) {
                case COLLECT -> {
                    cmd.add(seg.content().retain(), false, false);
                    decide(true);
                    if (cmd.mode == Mode.DISCARD) {
                        replyLocal(cmd.tag, cmd.reply);
                    }
                }
                case STREAM -> writeUpstream(seg.content().retain());
                case DISCARD -> {
                    if (cmd.reply != null) {
                        replyLocal(cmd.tag, cmd.reply);
                    }
                }
                default -> throw new IllegalStateException();
            }
            cmd = null;
            return;
        }
        long literal = seg.literalLength();
        switch (cmd.mode) {
            case COLLECT -> {
                cmd.add(seg.content().retain(), true, seg.synchronizing());
                if (literal <= settings.maxBufferedLiteral()
                        && cmd.size + literal <= settings.maxLineLength() + 4L * settings.maxBufferedLiteral()) {
                    acceptClientLiteral(seg);
                    return;
                }
                decide(false); // a large literal follows (an APPEND's message): judge on what we have, then stream
                if (cmd.mode == Mode.STREAM) {
                    acceptClientLiteral(seg);
                } else {
                    refuseLiteral(seg);
                }
            }
            case STREAM -> {
                forwardSegment(seg.content().retain(), seg.synchronizing());
                acceptClientLiteral(seg);
            }
            case DISCARD -> refuseLiteral(seg);
            default -> throw new IllegalStateException();
        }
    }

    private static String stripLiteral(String word) {
        int brace = word.indexOf('{');
        return brace >= 0 ? word.substring(0, brace) : word;
    }

    private void acceptClientLiteral(ImapCommandLine seg) {
        if (seg.synchronizing()) {
            writeLocal(ascii("+ Ready for literal data\r\n"));
            decoder.acceptLiteral();
        }
    }

    /** A command being refused before its literal: a synchronizing one is never sent, a LITERAL+ one is skipped. */
    private void refuseLiteral(ImapCommandLine seg) {
        if (seg.synchronizing()) {
            decoder.rejectLiteral();
            if (cmd.reply != null) {
                replyLocal(cmd.tag, cmd.reply);
            }
            cmd = null;
        } else {
            cmd.mode = Mode.DISCARD;
        }
    }

    private void onLiteral(ImapLiteralChunk chunk) {
        if (cmd == null) {
            return;
        }
        switch (cmd.mode) {
            case COLLECT -> cmd.add(chunk.content().retain(), false, false);
            case STREAM -> writeUpstream(chunk.content().retain());
            default -> { }
        }
    }

    private void onError(ImapCommandError err) {
        boolean forwarded = cmd != null && cmd.mode == Mode.STREAM;
        if (cmd != null) {
            cmd.releaseParts();
            cmd = null;
        }
        refusedCommands++;
        if (refusedCommands == 1 || refusedCommands % 100 == 0) {
            // a client flooding oversized commands gets one line, then one per hundred, not one each
            LOG.info("{} IMAP client command refused: {}{}", sessionId, err.reason(),
                    refusedCommands == 1 ? "" : " (" + refusedCommands + " refused in this session)");
        } else {
            LOG.debug("{} IMAP client command refused: {}", sessionId, err.reason());
        }
        if (!err.recoverable() || forwarded) {
            client.write(ascii(err.tag() + " BAD " + err.reason() + "\r\n"));
            goodbye("* BYE " + err.reason() + ", closing\r\n", true);
            return;
        }
        if (++refusedInARow >= MAX_REFUSED_IN_A_ROW) {
            // as Dovecot does after 20 invalid commands: a client that only sends what cannot be accepted is not
            // speaking IMAP (or is flooding); it gets its BAD, then a BYE
            LOG.warn("{} IMAP client sent {} commands in a row that broke a limit; closing", sessionId, refusedInARow);
            SessionLog.outcome(client, "too-many-invalid-commands");
            client.write(ascii(err.tag() + " BAD " + err.reason() + "\r\n"));
            goodbye("* BYE Too many invalid commands, closing\r\n", true);
            return;
        }
        replyLocal(err.tag(), "BAD " + err.reason());
    }

    private static List<ImapValue> parse(ByteBuf buf) {
        byte[] bytes = ByteBufUtil.getBytes(buf);
        return ImapValue.parseArguments(bytes, 0, bytes.length);
    }

    /** Applies the policy to the collected command (or its prefix) and forwards or refuses it. */
    private void decide(boolean complete) {
        byte[] bytes = cmd.bytes();
        List<ImapValue> values = ImapValue.parseArguments(bytes, 0, bytes.length);
        ClientPolicy.Verdict verdict = policy.check(values, complete);
        refusedInARow = 0;
        switch (verdict) {
            case ALLOW, ALLOW_AS_EXAMINE -> {
                boolean selecting = cmd.name.equals("SELECT") || cmd.name.equals("EXAMINE");
                InFlight f = new InFlight(cmd.tag, cmd.name, verdict == ClientPolicy.Verdict.ALLOW_AS_EXAMINE,
                        selecting && values.size() > 2 ? values.get(2) : null);
                if (tracker.idle()) {
                    lastProgress = client.eventLoop().ticker().nanoTime(); // the wait for a reply starts now
                }
                tracker.sent(f);
                cmd.flight = f;
                if (selecting) {
                    mailbox.selecting();
                }
                if (f.examine()) {
                    cmd.rewriteSelect();
                }
                if (cmd.name.equals("IDLE")) {
                    idlePending = true; // idling only once the upstream says "+"
                }
                if (DIRTYING.contains(cmd.name)
                        || ENABLES_CONDSTORE.matcher(new String(bytes, StandardCharsets.ISO_8859_1)).find()) {
                    dirty = true;
                }
                for (Part p : cmd.parts) {
                    if (p.literal) {
                        forwardSegment(p.buf, p.sync);
                    } else {
                        writeUpstream(p.buf);
                    }
                }
                cmd.parts.clear();
                cmd.mode = Mode.STREAM;
            }
            case DENY_READ_ONLY, DENY_FOLDER -> {
                cmd.releaseParts();
                cmd.mode = Mode.DISCARD;
                cmd.reply = verdict == ClientPolicy.Verdict.DENY_READ_ONLY
                        ? "NO [NOPERM] This client has read-only access"
                        : "NO [NOPERM] This client may not access that mailbox";
                LOG.info("{} IMAP {} refused by policy: {}", sessionId, cmd.name, verdict);
            }
            default -> throw new IllegalStateException();
        }
    }

    /**
     * Sends a segment that announces a literal. With a policy, every literal waits for the upstream's "+": an
     * upstream that does not read it (a command that takes no literal there, a BAD before it) must never get its
     * bytes, which it would run as a command the policy never saw.
     */
    private void forwardSegment(ByteBuf seg, boolean sync) {
        tracker.writeLiteralAnnouncement(seg, sync, cmd.flight);
    }

    private void writeUpstream(ByteBuf buf) {
        tracker.write(buf);
    }

    /** The tracker's way upstream. */
    private void toUpstream(ByteBuf buf) {
        upstreamUsed = true;
        upstream.write(buf);
    }

    /** The upstream's "+" to a gated literal: send what waited behind it, up to the next gate. */
    private void openGate() {
        boolean open = tracker.openGate();
        upstream.flush();
        if (open) {
            drainBacklog();
        }
    }

    private void replyLocal(String tag, String reply) {
        writeLocal(ascii(tag + " " + reply + "\r\n"));
    }

    /** A reply of the proxy's own: never inside an upstream response being relayed (a literal, a FETCH, a LIST). */
    private void writeLocal(ByteBuf buf) {
        if (upInResponse || filter.holding() || !localOut.isEmpty()) {
            localOut.add(buf);
        } else {
            client.writeAndFlush(buf);
        }
    }

    /** At an upstream response boundary: what the proxy had to say meanwhile. */
    private void flushLocal() {
        if (upInResponse || filter.holding() || localOut.isEmpty()) {
            return;
        }
        ByteBuf b;
        while ((b = localOut.poll()) != null) {
            client.write(b);
        }
        client.flush();
    }

    // ---------------------------------------------------------------- upstream side

    private void onUpstream(Object msg) {
        if (finished) {
            ReferenceCountUtil.release(msg);
            return;
        }
        lastProgress = client.eventLoop().ticker().nanoTime();
        try {
            if (msg instanceof ImapResponseLine line) {
                upInResponse = !line.endsResponse();
                onUpstreamLine(line);
                if (!finished) {
                    flushLocal();
                }
            } else if (msg instanceof ImapLiteralChunk chunk) {
                upInResponse = true;
                if (filter.holding()) {
                    filter.add(chunk.content());
                } else {
                    client.write(chunk.content().retain());
                }
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onUpstreamLine(ImapResponseLine line) {
        if (line.isFirst()) {
            switch (line.kind()) {
                case CONTINUATION -> {
                    if (handover.takeIdleContinuation()) {
                        maybeHandover(); // the "+ idling" of an IDLE restarted after a hand-over
                    } else if (tracker.awaitsContinuation()) {
                        openGate(); // our own synchronizing literal: the client already had its "+"
                    } else {
                        client.write(line.content().retain());
                        if (idlePending) {
                            idlePending = false;
                            idling = true;
                            maybeHandover();
                            if (!handingOver) {
                                drainBacklog();
                            }
                        }
                    }
                    return;
                }
                case TAGGED -> {
                    taggedFor = tracker.completed(line.tag());
                    if (taggedFor == null) {
                        LOG.warn("{} IMAP upstream completed a command not sent: {}", sessionId, line.text());
                    }
                }
                case UNTAGGED -> {
                    taggedFor = null;
                    if (line.status() == ImapStatus.BYE) {
                        LOG.warn("{} IMAP upstream ended the session: {}", sessionId, line.text());
                        upstreamLost("upstream said " + line.text());
                        return;
                    }
                    String text = line.endsResponse() ? line.text() : "";
                    mailbox.untagged(line.status(), text);
                    String capabilities = filter.capabilities(text);
                    if (capabilities != null) {
                        client.write(ascii(capabilities + "\r\n"));
                        return;
                    }
                    filter.begin(line.text(), client.alloc());
                }
                default -> throw new IllegalStateException();
            }
        }
        if (filter.holding()) {
            filter.add(line.content());
            ByteBuf shown = line.endsResponse() ? filter.end() : null;
            if (shown != null) {
                client.write(shown);
            }
            return;
        }
        if (line.kind() == ImapResponseLine.Kind.TAGGED && line.endsResponse()) {
            completed(line);
            return;
        }
        client.write(line.content().retain());
    }

    private void completed(ImapResponseLine line) {
        InFlight f = taggedFor;
        taggedFor = null;
        ImapStatus status = line.status();
        if (handingOver && idling && line.tag().equals(handover.idleTag())) {
            // the old connection's IDLE, ended by us for a hand-over: the client's IDLE goes on
            idling = false;
            handoverSwitch();
            return;
        }
        if (f != null && f.examine() && line.isFirst()) {
            // the client asked for SELECT: keep the reply consistent with what it sent
            client.write(ascii(line.text().replaceFirst("(?i)\\bEXAMINE\\b", "SELECT") + "\r\n"));
        } else {
            client.write(line.content().retain());
        }
        if (f != null && status != null) {
            mailbox.completed(f.name(), f.examine(), f.mailbox(), status);
            switch (f.name()) {
                case "IDLE" -> {
                    idling = false;
                    if (idlePending) {
                        idlePending = false; // the upstream refused IDLE: what the client sent next is a command
                        drainBacklog();
                    }
                }
                default -> { }
            }
            boolean ownGate = tracker.gatedBy(f);
            if (status == ImapStatus.OK && ownGate) {
                // completed OK without asking for the literal we hold: the upstream framed the command otherwise
                // than we did, and what we hold would reach it as a command of its own
                LOG.warn("{} IMAP upstream completed {} without reading its literal; closing the session", sessionId,
                        f.tag());
                SessionLog.outcome(client, "protocol-error");
                tracker.dropGated();
                goodbye("* BYE [UNAVAILABLE] Command framing disagreed with the server, closing\r\n", true);
                return;
            }
            if (status != ImapStatus.OK && ownGate) {
                // the upstream refused a command whose literal we held back: drop it, and the rest of the command
                tracker.dropGated();
                if (cmd != null && cmd.tag.equals(f.tag())) {
                    cmd.mode = Mode.DISCARD;
                    cmd.reply = null;
                }
                drainBacklog();
            }
        }
        tryFinish();
        maybeHandover();
    }

    // ---------------------------------------------------------------- endings

    /** LOGOUT or shutdown at the next safe point: no command in flight and none half received. */
    private void tryFinish() {
        if (finished || !tracker.idle() || tracker.gated()) {
            return;
        }
        if (logoutTag != null) {
            SessionLog.outcome(client, "logout");
            client.write(ascii("* BYE Logging out\r\n"));
            client.write(ascii(logoutTag + " OK LOGOUT completed\r\n"));
            mailbox.loggedOut();
            finish(false);
            client.writeAndFlush(client.alloc().buffer(0)).addListener(ChannelFutureListener.CLOSE);
        } else if (shutdownPending && cmd == null) {
            SessionLog.outcome(client, "shutdown");
            goodbye("* BYE [UNAVAILABLE] Server shutting down\r\n", false);
        }
    }

    private void goodbye(String bye, boolean discard) {
        mailbox.loggedOut();
        finish(discard);
        client.writeAndFlush(ascii(bye)).addListener(ChannelFutureListener.CLOSE);
    }

    private void upstreamLost(String why) {
        if (finished) {
            return;
        }
        LOG.warn("{} IMAP upstream lost ({}): closing the client session", sessionId, why);
        SessionLog.outcome(client, "upstream-lost");
        goodbye("* BYE [UNAVAILABLE] Connection to the mail server was lost, please reconnect\r\n", true);
    }

    /**
     * Ends the relay and returns the lease: released when the upstream is idle (dirty if the session did what the
     * pool cannot undo), discarded otherwise.
     */
    private void finish(boolean discard) {
        if (finished) {
            return;
        }
        finished = true;
        if (idleTimer != null) {
            idleTimer.cancel(false);
        }
        handover.cancel();
        boolean idle = tracker.idle() && cmd == null && !tracker.gated() && !idling && !upInResponse
                && !filter.holding();
        boolean close = discard || !idle || handingOver;
        boolean dirtyRelease = dirty;
        if (cmd != null) {
            cmd.releaseParts();
            cmd = null;
        }
        tracker.dropGated();
        filter.discard();
        backlog.forEach(ReferenceCountUtil::release);
        backlog.clear();
        localOut.forEach(ReferenceCountUtil::release);
        localOut.clear();
        Channel upstream = this.upstream;
        Lease lease = this.lease;
        boolean usedUpstream = upstreamUsed;
        Runnable giveBack = () -> {
            removeRelayHandlers(upstream);
            if (close) {
                lease.discard();
            } else if (!dirtyRelease && !usedUpstream) {
                lease.releaseUnused();
            } else {
                lease.release(dirtyRelease);
            }
        };
        LOG.debug("{} IMAP relay ends: lease {}", sessionId, close ? "discarded" : dirtyRelease ? "released dirty" : "released");
        if (upstream.eventLoop().inEventLoop()) {
            giveBack.run();
        } else {
            upstream.eventLoop().execute(giveBack);
        }
    }

    /** (Re)starts the authenticated idle timer. */
    private void touch() {
        if (idleTimer != null) {
            idleTimer.cancel(false);
        }
        long nanos = settings.idleTimeout().toNanos();
        idleTimer = client.eventLoop().schedule(this::idleTimeout, nanos, TimeUnit.NANOSECONDS);
    }

    private void idleTimeout() {
        if (finished) {
            return;
        }
        if (!idling && !tracker.idle()
                && client.eventLoop().ticker().nanoTime() - lastProgress >= settings.idleTimeout().toNanos()) {
            // a command running with not one byte from the upstream for the whole idle timeout: the connection is
            // dead without saying so (or a literal waits for a "+" that never comes); the client would wait for ever
            upstreamLost("no reply to " + tracker.oldest().tag() + " for " + settings.idleTimeout());
            return;
        }
        if (idling || !tracker.idle() || cmd != null) {
            touch(); // IDLE and running commands are not idleness
            return;
        }
        LOG.info("{} IMAP session idle for {}, logging out", sessionId, settings.idleTimeout());
        SessionLog.outcome(client, "idle-timeout");
        goodbye("* BYE Autologout; idle for too long\r\n", false);
    }

    private ByteBuf ascii(String s) {
        return ByteBufUtil.writeUtf8(client.alloc(), s);
    }

    private void onClientLoop(Runnable r) {
        if (client.eventLoop().inEventLoop()) {
            r.run();
        } else {
            client.eventLoop().execute(r);
        }
    }

    // ---------------------------------------------------------------- token hand-over

    /** Arms the hand-over for before the upstream's token expires (Office 365 then ends the session). */
    private void scheduleExpiry() {
        if (!finished) {
            handover.schedule(client.eventLoop(), lease.session().tokenExpiresAt(), this::maybeHandover);
        }
    }

    /** Starts the hand-over if one is due and the session is at a safe point (between commands, or in IDLE). */
    private void maybeHandover() {
        if (!handover.due() || handingOver || finished || logoutTag != null || shutdownPending) {
            return;
        }
        boolean inIdle = idling && !handover.awaitsIdleContinuation() && tracker.inFlight() == 1 && cmd == null
                && !tracker.gated();
        boolean quiet = !idling && tracker.idle() && cmd == null && !tracker.gated() && !upInResponse
                && !filter.holding();
        if (!inIdle && !quiet) {
            return;
        }
        handover.start(inIdle ? tracker.oldest().tag() : null);
        if (dirty) {
            // ENABLE, NOTIFY, CONDSTORE...: session state a fresh connection would not have
            LOG.warn("{} IMAP upstream token expires soon and the session cannot move (it used ENABLE, NOTIFY or "
                    + "CONDSTORE): closing it", sessionId);
            SessionLog.outcome(client, "token-expired");
            goodbye("* BYE [UNAVAILABLE] The mail server session expired, please reconnect\r\n", true);
            return;
        }
        handingOver = true;
        LOG.info("{} IMAP upstream token expires soon: moving the session to a fresh connection", sessionId);
        if (inIdle) {
            upstream.writeAndFlush(ascii("DONE\r\n")); // its tagged OK is swallowed, then handoverSwitch()
        } else {
            handoverSwitch();
        }
    }

    /** The old connection is idle: hand it to the hand-over, and take the fresh one it returns. */
    private void handoverSwitch() {
        Channel oldCh = upstream;
        handover.move(lease, mailbox.selection(), () -> removeRelayHandlers(oldCh),
                bytes -> onClientLoop(() -> relayDuringHandover(bytes)))
                .whenComplete((moved, error) -> onClientLoop(() -> {
                    if (error == null && !finished) {
                        completeHandover(moved);
                        return;
                    }
                    if (moved != null) {
                        moved.abandon();
                    }
                    if (!finished) {
                        Throwable cause = error instanceof CompletionException && error.getCause() != null
                                ? error.getCause() : error;
                        LOG.warn("{} IMAP hand-over to a fresh upstream connection failed: {}", sessionId,
                                String.valueOf(cause));
                        SessionLog.outcome(client, "token-expired");
                        goodbye("* BYE [UNAVAILABLE] The mail server session expired, please reconnect\r\n", true);
                    }
                }));
    }

    private void relayDuringHandover(ByteBuf bytes) {
        if (finished) {
            bytes.release();
        } else {
            client.writeAndFlush(bytes);
        }
    }

    /** Tells the client what changed between the two views, and moves the relay to the new connection. */
    private void completeHandover(Handover.Moved moved) {
        if (!moved.changes().isEmpty()) {
            client.write(ascii(moved.changes()));
        }
        moved.retireOld();
        Channel nextCh = moved.lease().session().channel();
        lease = moved.lease();
        upstreamUsed = true; // the hand-over selected a mailbox on it
        upstream = nextCh;
        tracker.upstreamLiteralPlus(lease.session().hasCapability("LITERAL+"));
        nextCh.eventLoop().execute(() -> {
            moved.imap().detach();
            addRelayHandlers(nextCh);
            nextCh.read();
        });
        String idleTag = handover.idleTag();
        if (idleTag != null) {
            // the client is still in IDLE: idle on the new connection under the client's own tag
            upstream.writeAndFlush(ascii(idleTag + " IDLE\r\n"));
            tracker.sent(new InFlight(idleTag, "IDLE"));
            idling = true;
            handover.idleRestarted();
        }
        handingOver = false;
        client.flush();
        LOG.info("{} IMAP session moved to a fresh upstream connection", sessionId);
        scheduleExpiry();
        drainBacklog();
    }

    // ---------------------------------------------------------------- types

    private enum Mode { COLLECT, STREAM, DISCARD }

    /** A piece of a command; {@code literal}: a line that announces a literal, {@code sync}: a synchronizing one. */
    private record Part(ByteBuf buf, boolean literal, boolean sync) { }

    /** A client command being received. */
    private final class Cmd {
        final String tag;
        final String name;
        final List<Part> parts = new ArrayList<>();
        long size;
        Mode mode = Mode.COLLECT;
        String reply;
        /** Once forwarded: its entry among the commands in flight. */
        InFlight flight;

        Cmd(String tag, String name) {
            this.tag = tag;
            this.name = name;
        }

        void add(ByteBuf buf, boolean literal, boolean sync) {
            size += buf.readableBytes();
            parts.add(new Part(buf, literal, sync));
        }

        byte[] bytes() {
            byte[] out = new byte[(int) size];
            int at = 0;
            for (Part p : parts) {
                int n = p.buf.readableBytes();
                p.buf.getBytes(p.buf.readerIndex(), out, at, n);
                at += n;
            }
            return out;
        }

        /** SELECT becomes EXAMINE; every other byte (an 8-bit quoted mailbox name too) is kept as sent. */
        void rewriteSelect() {
            Part first = parts.get(0);
            ByteBuf in = first.buf;
            int sp = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) ' ');
            int rest = sp + 1 + "SELECT".length();
            ByteBuf out = client.alloc().buffer(in.readableBytes() + 1);
            out.writeBytes(in, in.readerIndex(), sp + 1 - in.readerIndex());
            out.writeCharSequence("EXAMINE", StandardCharsets.US_ASCII);
            out.writeBytes(in, rest, in.writerIndex() - rest);
            in.release();
            parts.set(0, new Part(out, first.literal, first.sync));
        }

        void releaseParts() {
            parts.forEach(p -> p.buf.release());
            parts.clear();
        }
    }


    /** The relay's handler on the client channel (after the command decoder). */
    private final class ClientSide extends ChannelInboundHandlerAdapter {

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            onClient(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (finished) {
                return;
            }
            upstream.flush();
            ctx.flush();
            if (!paused() && backlog.isEmpty() && upstream.isWritable() && client.isWritable()) {
                ctx.read(); // neither side's outbound buffer grows without bound
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable() && !finished) {
                upstream.read();
                if (!paused() && backlog.isEmpty() && upstream.isWritable()) {
                    ctx.read(); // a client that did not read its replies is read from again
                }
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ShutdownEvent) {
                shutdownPending = true;
                if (idling) {
                    SessionLog.outcome(client, "shutdown");
                    goodbye("* BYE [UNAVAILABLE] Server shutting down\r\n", true);
                } else {
                    tryFinish();
                }
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!finished) {
                LOG.debug("{} IMAP client went away", sessionId);
                finish(false); // finish() discards unless the upstream was idle
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("{} IMAP client connection failed", sessionId, cause);
            finish(true);
            ctx.close();
        }
    }

    /** The relay's handler on the upstream channel (after core's response decoder). */
    private final class UpstreamSide extends ChannelInboundHandlerAdapter {
        private final Channel ch;

        UpstreamSide(Channel ch) {
            this.ch = ch;
        }

        /** Runs on the client's loop, unless the session has moved to another upstream connection meanwhile. */
        private void onClientLoopIfCurrent(Runnable r, Object msg) {
            onClientLoop(() -> {
                if (ch != upstream) {
                    ReferenceCountUtil.release(msg);
                    return;
                }
                r.run();
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            onClientLoopIfCurrent(() -> onUpstream(msg), msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            onClientLoopIfCurrent(() -> {
                if (finished) {
                    return;
                }
                client.flush();
                if (client.isWritable()) {
                    upstream.read();
                }
            }, null);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                onClientLoopIfCurrent(() -> {
                    if (!finished && !paused() && backlog.isEmpty() && client.isWritable()) {
                        client.read();
                    }
                }, null);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            onClientLoopIfCurrent(() -> upstreamLost("connection closed"), null);
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            onClientLoopIfCurrent(() -> upstreamLost(String.valueOf(cause.getMessage())), null);
            ctx.close();
        }
    }
}
