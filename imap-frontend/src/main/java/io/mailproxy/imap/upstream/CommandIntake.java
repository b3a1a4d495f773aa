package io.mailproxy.imap.upstream;

import io.mailproxy.core.imap.ImapLiteralChunk;
import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.imap.ImapSettings;
import io.mailproxy.imap.codec.ImapCommandDecoder;
import io.mailproxy.imap.codec.ImapCommandError;
import io.mailproxy.imap.codec.ImapCommandLine;
import io.mailproxy.imap.policy.ClientPolicy;
import io.mailproxy.imap.upstream.ClientCommand.Mode;
import io.mailproxy.imap.upstream.ClientCommand.Part;
import io.mailproxy.imap.upstream.CommandTracker.InFlight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The relay's client side, one decoded message at a time: frames each command, refuses what cannot be relayed after
 * login, holds a command until the policy can judge it (its end, or a literal too large to hold), answers the
 * client's synchronizing literals, and passes what is allowed to the {@link CommandTracker}. It tells the relay
 * what happened (a command sent, DONE, LOGOUT, a session to end); the relay owns the session's phase.
 * Event loop (client) only.
 */
final class CommandIntake {

    private static final Logger LOG = LoggerFactory.getLogger(CommandIntake.class);
    /** Commands that change session state the pool cannot reset (RFC 5161, 5465, 5255, 5267). */
    private static final Set<String> DIRTYING = Set.of("ENABLE", "NOTIFY", "LANGUAGE", "COMPARATOR", "CONTEXT",
            "CANCELUPDATE");
    /** Words that turn on CONDSTORE/QRESYNC for the rest of the session (RFC 7162 section 3.1). */
    private static final Pattern ENABLES_CONDSTORE = Pattern.compile(
            "(?i)\\b(CONDSTORE|QRESYNC|CHANGEDSINCE|UNCHANGEDSINCE|MODSEQ)\\b");
    /** Refusals for a limit in a row after which the session ends (as Dovecot does). */
    private static final int MAX_REFUSED_IN_A_ROW = 20;

    private final ImapRelay relay;
    private final CommandTracker tracker;
    private final ImapCommandDecoder decoder;
    private final ClientPolicy policy;
    private final ImapSettings settings;
    private final String sessionId;
    /** The command being received; null between commands. */
    private ClientCommand cmd;
    /** Commands refused for a limit (line, literal) in this session: only some are logged at INFO. */
    private int refusedCommands;
    /** Such refusals since the last command that was not refused; at {@link #MAX_REFUSED_IN_A_ROW} the session ends. */
    private int refusedInARow;

    CommandIntake(ImapRelay relay, CommandTracker tracker, ImapCommandDecoder decoder, ClientPolicy policy,
                  ImapSettings settings, String sessionId) {
        this.relay = relay;
        this.tracker = tracker;
        this.decoder = decoder;
        this.policy = policy;
        this.settings = settings;
        this.sessionId = sessionId;
    }

    /** A command is half received. */
    boolean receiving() {
        return cmd != null;
    }

    /** The session ends: what was collected is released. */
    void release() {
        if (cmd != null) {
            cmd.releaseParts();
            cmd = null;
        }
    }

    /**
     * The upstream completed {@code command} with {@code status} while a literal of it waits behind the tracker's
     * gate; what the gate holds is dropped. OK without asking for the literal: the upstream framed the command
     * otherwise than we did, and what we hold would reach it as a command of its own, so the session ends (false).
     * Refused: if the client is still sending the command, the rest is dropped without a reply of the proxy's own
     * (the upstream's is the reply).
     */
    boolean completedWhileGated(InFlight command, ImapStatus status) {
        if (status == ImapStatus.OK) {
            LOG.warn("{} IMAP upstream completed {} without reading its literal; closing the session", sessionId,
                    command.tag());
            tracker.dropGated();
            relay.end("protocol-error", null,
                    "* BYE [UNAVAILABLE] Command framing disagreed with the server, closing\r\n");
            return false;
        }
        tracker.dropGated();
        if (cmd != null && cmd.tag.equals(command.tag())) {
            cmd.discard(null);
        }
        return true;
    }

    /** A message of the client's command decoder; released here. */
    void onMessage(Object msg) {
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

    private void onSegment(ImapCommandLine seg) {
        if (seg.isFirst()) {
            relay.touch();
            if (relay.phase() == RelayPhase.IDLING) {
                // RFC 2177: only DONE may come while idling; anything else is a protocol violation
                if (!seg.endsCommand() || !seg.text().trim().equalsIgnoreCase("DONE")) {
                    LOG.info("{} IMAP client sent something other than DONE during IDLE", sessionId);
                    relay.end("protocol-error", "* BAD Expected DONE\r\n", "* BYE Protocol error, closing\r\n");
                    return;
                }
                relay.idleDone();
                tracker.write(seg.content().retain());
                return;
            }
            cmd = ClientCommand.of(seg);
            String refusal = cmd.refusal();
            if (refusal != null) {
                LOG.info("{} IMAP {} answered by the proxy, not forwarded: {}", sessionId, cmd.name, refusal);
                cmd.discard(refusal);
            } else if (cmd.name.equals("LOGOUT")) {
                if (!seg.endsCommand()) {
                    cmd.discard("BAD LOGOUT takes no arguments");
                } else {
                    String tag = cmd.tag;
                    cmd = null;
                    relay.logout(tag);
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
            String tag = cmd.tag;
            // only if the upstream has not already completed the command (a NO mid-literal, say): one reply
            String reply = tracker.isInFlight(tag) ? tag + " NO [NOPERM] This client may not access that mailbox\r\n"
                    : null;
            release();
            relay.end("policy", reply, "* BYE Command refused, closing\r\n");
            return;
        }
        if (seg.endsCommand()) {
            endOfCommand(seg);
        } else {
            literalAnnounced(seg);
        }
    }

    private void endOfCommand(ImapCommandLine seg) {
        switch (cmd.mode) {
            case COLLECT -> {
                cmd.add(seg.content().retain(), false, false);
                decide(true);
                if (cmd.mode == Mode.DISCARD) {
                    reply(cmd.tag, cmd.reply);
                }
            }
            case STREAM -> tracker.write(seg.content().retain());
            case DISCARD -> {
                if (cmd.reply != null) {
                    reply(cmd.tag, cmd.reply);
                }
            }
            default -> throw new IllegalStateException();
        }
        cmd = null;
    }

    private void literalAnnounced(ImapCommandLine seg) {
        long literal = seg.literalLength();
        switch (cmd.mode) {
            case COLLECT -> {
                cmd.add(seg.content().retain(), true, seg.synchronizing());
                if (literal <= settings.maxBufferedLiteral()
                        && cmd.size + literal <= settings.maxLineLength() + 4L * settings.maxBufferedLiteral()) {
                    acceptLiteral(seg);
                    return;
                }
                decide(false); // a large literal follows (an APPEND's message): judge on what we have, then stream
                if (cmd.mode == Mode.STREAM) {
                    acceptLiteral(seg);
                } else {
                    refuseLiteral(seg);
                }
            }
            case STREAM -> {
                tracker.writeLiteralAnnouncement(seg.content().retain(), seg.synchronizing(), cmd.flight);
                acceptLiteral(seg);
            }
            case DISCARD -> refuseLiteral(seg);
            default -> throw new IllegalStateException();
        }
    }

    private void acceptLiteral(ImapCommandLine seg) {
        if (seg.synchronizing()) {
            relay.writeLocal("+ Ready for literal data\r\n");
            decoder.acceptLiteral();
        }
    }

    /** A command being refused before its literal: a synchronizing one is never sent, a LITERAL+ one is skipped. */
    private void refuseLiteral(ImapCommandLine seg) {
        if (seg.synchronizing()) {
            decoder.rejectLiteral();
            if (cmd.reply != null) {
                reply(cmd.tag, cmd.reply);
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
            case STREAM -> tracker.write(chunk.content().retain());
            default -> { }
        }
    }

    private void onError(ImapCommandError err) {
        boolean forwarded = cmd != null && cmd.mode == Mode.STREAM;
        release();
        refusedCommands++;
        if (refusedCommands == 1 || refusedCommands % 100 == 0) {
            // a client flooding oversized commands gets one line, then one per hundred, not one each
            LOG.info("{} IMAP client command refused: {}{}", sessionId, err.reason(),
                    refusedCommands == 1 ? "" : " (" + refusedCommands + " refused in this session)");
        } else {
            LOG.debug("{} IMAP client command refused: {}", sessionId, err.reason());
        }
        String bad = err.tag() + " BAD " + err.reason() + "\r\n";
        if (!err.recoverable() || forwarded) {
            relay.end(null, bad, "* BYE " + err.reason() + ", closing\r\n");
            return;
        }
        if (++refusedInARow >= MAX_REFUSED_IN_A_ROW) {
            // as Dovecot does after 20 invalid commands: a client that only sends what cannot be accepted is not
            // speaking IMAP (or is flooding); it gets its BAD, then a BYE
            LOG.warn("{} IMAP client sent {} commands in a row that broke a limit; closing", sessionId, refusedInARow);
            relay.end("too-many-invalid-commands", bad, "* BYE Too many invalid commands, closing\r\n");
            return;
        }
        reply(err.tag(), "BAD " + err.reason());
    }

    private void reply(String tag, String reply) {
        relay.writeLocal(tag + " " + reply + "\r\n");
    }

    private static List<ImapValue> parse(ByteBuf buf) {
        byte[] bytes = ByteBufUtil.getBytes(buf);
        return ImapValue.parseArguments(bytes, 0, bytes.length);
    }

    /**
     * The whole command's bytes as they go upstream, when Office 365's throttling reply may have it sent again: a
     * short command that is safe to repeat, without literals (an APPEND's never is), within the session's bound.
     */
    private byte[] keptToSendAgain(boolean complete) {
        if (!complete || !UpstreamThrottle.mayKeep(cmd.name, cmd.size) || !tracker.mayKeep(cmd.size)
                || cmd.parts.stream().anyMatch(Part::literal)) {
            return null;
        }
        ByteBuf all = Unpooled.wrappedBuffer(cmd.parts.stream().map(p -> p.buf().retainedSlice())
                .toArray(ByteBuf[]::new)); // after SELECT became EXAMINE: the bytes as sent
        try {
            return ByteBufUtil.getBytes(all);
        } finally {
            all.release();
        }
    }

    /** Applies the policy to the collected command (or its prefix) and forwards or refuses it. */
    private void decide(boolean complete) {
        byte[] bytes = cmd.bytes();
        List<ImapValue> values = ImapValue.parseArguments(bytes, 0, bytes.length);
        ClientPolicy.Verdict verdict = policy.check(values, complete);
        refusedInARow = 0;
        switch (verdict) {
            case ALLOW, ALLOW_AS_EXAMINE -> {
                boolean examine = verdict == ClientPolicy.Verdict.ALLOW_AS_EXAMINE;
                if (examine) {
                    cmd.rewriteSelect();
                }
                InFlight f = new InFlight(cmd.tag, cmd.name, examine,
                        cmd.selects() && values.size() > 2 ? values.get(2) : null, keptToSendAgain(complete), 0);
                boolean dirties = DIRTYING.contains(cmd.name)
                        || ENABLES_CONDSTORE.matcher(new String(bytes, StandardCharsets.ISO_8859_1)).find();
                relay.sending(f, dirties);
                cmd.flight = f;
                for (Part p : cmd.parts) {
                    if (p.literal()) {
                        tracker.writeLiteralAnnouncement(p.buf(), p.sync(), f);
                    } else {
                        tracker.write(p.buf());
                    }
                }
                cmd.parts.clear();
                cmd.mode = Mode.STREAM;
            }
            case DENY_READ_ONLY, DENY_FOLDER -> {
                cmd.discard(verdict == ClientPolicy.Verdict.DENY_READ_ONLY
                        ? "NO [NOPERM] This client has read-only access"
                        : "NO [NOPERM] This client may not access that mailbox");
                LOG.info("{} IMAP {} refused by policy: {}", sessionId, cmd.name, verdict);
            }
            default -> throw new IllegalStateException();
        }
    }
}
