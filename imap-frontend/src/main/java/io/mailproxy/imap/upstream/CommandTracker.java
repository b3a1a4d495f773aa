package io.mailproxy.imap.upstream;

import io.mailproxy.core.imap.ImapValue;
import io.netty.buffer.ByteBuf;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.function.Consumer;

/**
 * The client's commands on their way upstream: which are in flight (sent, not yet completed), and the bytes held
 * behind a literal gate. A synchronizing literal ({@code {n}}) is sent only after the upstream's "+"; what the client
 * sends meanwhile waits here, in order. LITERAL+ (RFC 7888) is converted both ways: to an upstream with LITERAL+
 * and no policy, {@code {n}} goes as {@code {n+}}; to one without it (or under a policy, which must never let an
 * upstream run literal bytes as a command it did not judge), {@code {n+}} goes as {@code {n}} and waits.
 *
 * <p>Plain Java over {@link ByteBuf}s: it writes to the upstream through the sink it was given (which does not
 * flush) and owns every buffer it is handed. Event loop (client) only.
 */
final class CommandTracker {

    /**
     * A command sent upstream and not yet completed: the name the client sent ({@code SELECT}, {@code UID FETCH}),
     * whether the policy sent SELECT as EXAMINE, and the mailbox a SELECT or EXAMINE names; for a short command that
     * may be sent again after a throttling reply ({@link UpstreamThrottle}), its bytes as sent (else null), and how
     * often it was sent again already.
     */
    record InFlight(String tag, String name, boolean examine, ImapValue mailbox, byte[] resend, int retries) {

        InFlight(String tag, String name, boolean examine, ImapValue mailbox) {
            this(tag, name, examine, mailbox, null, 0);
        }

        InFlight(String tag, String name) {
            this(tag, name, false, null);
        }

        /** The same command, sent once more. */
        InFlight again() {
            return new InFlight(tag, name, examine, mailbox, resend, retries + 1);
        }
    }

    /** Most bytes of commands in flight kept to be sent again ({@link InFlight#resend}): bounded per session. */
    static final int MAX_KEPT_BYTES = 65536;

    /**
     * A synchronizing literal of command {@code owner} waits here for the upstream's "+". The command itself, not its
     * tag: a client may reuse a tag, and a reply for another command with it must not open or drop this gate.
     */
    private record Gate(InFlight owner) { }

    private final Consumer<ByteBuf> upstream;
    /** Every literal waits for the upstream's "+", LITERAL+ or not (a client with a policy). */
    private final boolean gateEveryLiteral;
    private boolean upstreamLiteralPlus;
    private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
    /** {@link Gate}s and the {@link ByteBuf}s held behind them, in the order the client sent them. */
    private final ArrayDeque<Object> gated = new ArrayDeque<>();
    /** Bytes of the commands in flight kept to be sent again. */
    private int kept;

    CommandTracker(Consumer<ByteBuf> upstream, boolean gateEveryLiteral) {
        this.upstream = upstream;
        this.gateEveryLiteral = gateEveryLiteral;
    }

    /** The connection the commands go to has LITERAL+ (or, after a hand-over, the new one has). */
    void upstreamLiteralPlus(boolean has) {
        this.upstreamLiteralPlus = has;
    }

    // ---------------------------------------------------------------- in flight

    void sent(InFlight command) {
        inFlight.add(command);
        kept += command.resend() == null ? 0 : command.resend().length;
    }

    /** Whether {@code size} more bytes may be kept to send a command again (within {@link #MAX_KEPT_BYTES}). */
    boolean mayKeep(long size) {
        return kept + size <= MAX_KEPT_BYTES;
    }

    /** Nothing in flight. */
    boolean idle() {
        return inFlight.isEmpty();
    }

    int inFlight() {
        return inFlight.size();
    }

    /** The oldest command in flight, or null. */
    InFlight oldest() {
        return inFlight.peek();
    }

    boolean isInFlight(String tag) {
        return inFlight.stream().anyMatch(f -> f.tag().equals(tag));
    }

    /** The upstream completed {@code tag}: the oldest command in flight with that tag, removed; null if none. */
    InFlight completed(String tag) {
        for (Iterator<InFlight> it = inFlight.iterator(); it.hasNext(); ) {
            InFlight f = it.next();
            if (f.tag().equals(tag)) {
                it.remove();
                kept -= f.resend() == null ? 0 : f.resend().length;
                return f;
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- gates

    /** Bytes of a command for the upstream: sent now, or held behind the gate they come after. */
    void write(ByteBuf buf) {
        if (gated.isEmpty()) {
            upstream.accept(buf);
        } else {
            gated.add(buf);
        }
    }

    /**
     * A segment of {@code owner} that announces a literal ({@code ...{n}CRLF} when {@code synchronizing}, else
     * {@code ...{n+}CRLF}): sent as LITERAL+ when the upstream has it and literals need no gate; otherwise as a
     * synchronizing literal whose bytes wait for the upstream's "+".
     */
    void writeLiteralAnnouncement(ByteBuf segment, boolean synchronizing, InFlight owner) {
        if (upstreamLiteralPlus && !gateEveryLiteral) {
            write(synchronizing ? toNonSynchronizing(segment) : segment);
        } else {
            write(synchronizing ? segment : toSynchronizing(segment));
            gated.add(new Gate(owner));
        }
    }

    /** Something waits behind a gate: the client's next bytes must wait too. */
    boolean gated() {
        return !gated.isEmpty();
    }

    /** The next thing the upstream should answer is a gate's "+": a continuation that is ours, not the client's. */
    boolean awaitsContinuation() {
        return gated.peek() instanceof Gate;
    }

    /** The first gate belongs to {@code command}. */
    boolean gatedBy(InFlight command) {
        return gated.peek() instanceof Gate g && g.owner() == command;
    }

    /**
     * The upstream's "+" to the first gate: sends what waited behind it, up to the next gate. True when nothing is
     * held any more.
     */
    boolean openGate() {
        if (gated.peek() instanceof Gate) {
            gated.poll();
        }
        Object o;
        while ((o = gated.peek()) != null && !(o instanceof Gate)) {
            upstream.accept((ByteBuf) gated.poll());
        }
        return gated.isEmpty();
    }

    /** Drops everything held (a refused command's literal and whatever came after it; or the session's end). */
    void dropGated() {
        gated.forEach(ReferenceCountUtil::release);
        gated.clear();
    }

    // ---------------------------------------------------------------- LITERAL+ (RFC 7888 section 4)

    /** {@code ...{n+}CRLF} becomes {@code ...{n}CRLF}; releases {@code seg}. */
    static ByteBuf toSynchronizing(ByteBuf seg) {
        try {
            int end = seg.writerIndex();
            int brace = closingBrace(seg);
            ByteBuf out = seg.alloc().buffer(seg.readableBytes());
            out.writeBytes(seg, seg.readerIndex(), brace - 1 - seg.readerIndex()); // without the '+'
            out.writeBytes(seg, brace, end - brace);
            return out;
        } finally {
            seg.release();
        }
    }

    /** {@code ...{n}CRLF} becomes {@code ...{n+}CRLF}; releases {@code seg}. */
    static ByteBuf toNonSynchronizing(ByteBuf seg) {
        try {
            int end = seg.writerIndex();
            int brace = closingBrace(seg);
            ByteBuf out = seg.alloc().buffer(seg.readableBytes() + 1);
            out.writeBytes(seg, seg.readerIndex(), brace - seg.readerIndex());
            out.writeByte('+');
            out.writeBytes(seg, brace, end - brace);
            return out;
        } finally {
            seg.release();
        }
    }

    private static int closingBrace(ByteBuf seg) {
        int brace = seg.writerIndex() - 1;
        while (brace > seg.readerIndex() && seg.getByte(brace) != '}') {
            brace--;
        }
        return brace;
    }
}
