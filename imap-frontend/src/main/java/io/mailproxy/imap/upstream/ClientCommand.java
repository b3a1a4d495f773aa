package io.mailproxy.imap.upstream;

import io.mailproxy.imap.codec.ImapCommandLine;
import io.mailproxy.imap.upstream.CommandTracker.InFlight;
import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A client command being received, segment by segment: collected while the policy cannot judge it yet, streamed
 * upstream once allowed, or discarded (with the reply it gets) once refused. Owns the segments it collects.
 */
final class ClientCommand {

    /** What happens to the command's next bytes. */
    enum Mode {
        /** Held until the policy can judge the command (its end, or a literal too large to hold). */
        COLLECT,
        /** Allowed: each byte goes upstream as it comes. */
        STREAM,
        /** Refused: read and dropped; {@link #reply} (if any) answers it at its end. */
        DISCARD
    }

    /** A piece of a command; {@code literal}: a line that announces a literal, {@code sync}: a synchronizing one. */
    record Part(ByteBuf buf, boolean literal, boolean sync) { }

    final String tag;
    /** The command's name in upper case; {@code UID FETCH} and the like with their second word. */
    final String name;
    final List<Part> parts = new ArrayList<>();
    long size;
    Mode mode = Mode.COLLECT;
    /** The proxy's own reply ({@code BAD ...}, {@code NO ...}) to a refused command; null for none. */
    String reply;
    /** Once forwarded: its entry among the commands in flight. */
    InFlight flight;

    private ClientCommand(String tag, String name) {
        this.tag = tag;
        this.name = name;
    }

    /**
     * The command a first segment starts. A tag that is not one by RFC 3501 ({@code a)b}, {@code (x}, {@code +}) is
     * taken as {@code *}, which {@link #refusal()} refuses: the policy's parser would read {@code b} there.
     */
    static ClientCommand of(ImapCommandLine firstSegment) {
        String[] words = firstSegment.text().split(" ", 4);
        String name = words.length > 1 ? stripLiteral(words[1]).toUpperCase(Locale.ROOT) : "";
        if (name.equals("UID") && words.length > 2) {
            name = "UID " + stripLiteral(words[2]).toUpperCase(Locale.ROOT);
        }
        return new ClientCommand(firstSegment.hasValidTag() ? words[0] : "*", name);
    }

    private static String stripLiteral(String word) {
        int brace = word.indexOf('{');
        return brace >= 0 ? word.substring(0, brace) : word;
    }

    /** The reply for a command that cannot be relayed after login, or null. */
    String refusal() {
        if (tag.equals("*")) {
            return "BAD Missing or invalid tag";
        }
        return switch (name) {
            case "LOGIN", "AUTHENTICATE" -> "BAD Already logged in";
            case "STARTTLS" -> "BAD STARTTLS is only valid before login";
            case "COMPRESS" -> "NO [CANNOT] COMPRESS is not available through this proxy";
            case "UNAUTHENTICATE" -> "NO [CANNOT] UNAUTHENTICATE is not available through this proxy";
            default -> null;
        };
    }

    boolean selects() {
        return name.equals("SELECT") || name.equals("EXAMINE");
    }

    /** Refused: the rest is read and dropped; {@code reply} answers it (null: no reply of the proxy's own). */
    void discard(String reply) {
        releaseParts();
        mode = Mode.DISCARD;
        this.reply = reply;
    }

    void add(ByteBuf buf, boolean literal, boolean sync) {
        size += buf.readableBytes();
        parts.add(new Part(buf, literal, sync));
    }

    /** The bytes collected so far. */
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
        ByteBuf out = in.alloc().buffer(in.readableBytes() + 1);
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
