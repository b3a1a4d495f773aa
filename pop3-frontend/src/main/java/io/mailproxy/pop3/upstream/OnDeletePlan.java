package io.mailproxy.pop3.upstream;

import io.mailproxy.core.config.ClientConfig.OnDelete;
import io.mailproxy.core.imap.ImapResponse;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.core.imap.ModifiedUtf7;
import io.mailproxy.pop3.codec.Pop3Response;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * What QUIT sends to an IMAP folder for the messages the client marked with DELE (RFC 1939 section 6, the UPDATE
 * state), given {@code on-delete} and the upstream's capabilities: {@code keep} nothing, {@code seen} a
 * {@code \Seen} flag, {@code expunge} a {@code \Deleted} flag and UID EXPUNGE (RFC 4315; never a plain EXPUNGE, which
 * would also remove other clients' {@code \Deleted} messages), {@code move:FOLDER} UID MOVE (RFC 6851), or without
 * MOVE a UID COPY, then as expunge. UIDs go in sets of at most {@link #MAX_SET_LENGTH} characters. Plain Java.
 *
 * @param hasMove    whether the upstream advertised MOVE
 * @param moveTarget for move, the destination as it goes on the wire (encoded and quoted); null otherwise
 */
record OnDeletePlan(OnDelete onDelete, boolean hasMove, String moveTarget) {
    /** Longest UID set put in one command (Office 365 and Dovecot accept far longer lines). */
    static final int MAX_SET_LENGTH = 4000;
    /** The RFC 6154 special-use attributes a {@code move:\Name} may name. */
    static final List<String> SPECIAL_USE =
            List.of("\\ALL", "\\ARCHIVE", "\\DRAFTS", "\\FLAGGED", "\\JUNK", "\\SENT", "\\TRASH");

    /**
     * Why the upstream cannot carry out {@code on-delete} safely, if it cannot: expunge, and move without MOVE, need
     * UID EXPUNGE (RFC 4315 section 2.1).
     */
    static Optional<String> missingCapability(OnDelete onDelete, boolean hasMove, boolean hasUidplus) {
        OnDelete.Kind kind = onDelete.kind();
        boolean needsUidExpunge = kind == OnDelete.Kind.EXPUNGE || (kind == OnDelete.Kind.MOVE && !hasMove);
        return needsUidExpunge && !hasUidplus ? Optional.of("UIDPLUS") : Optional.empty();
    }

    /** The wire form of a {@code move:FOLDER} that names a folder, not a special use. */
    static String folder(String name) {
        return ModifiedUtf7.quoted(name);
    }

    /**
     * The name, as the server sent it (modified UTF-7), of the folder whose LIST response carries the special-use
     * attribute {@code use} (RFC 6154), if one does; {@code use} is one of {@link #SPECIAL_USE}, in any case.
     */
    static Optional<String> specialUse(String use, List<ImapResponse> listed) {
        String wanted = use.toUpperCase(Locale.ROOT);
        for (ImapResponse r : listed) {
            List<ImapValue> v = r.values();
            // LIST (attributes) delimiter name
            if (v.size() >= 4 && v.get(1) instanceof ImapValue.Parens attrs
                    && attrs.items().stream().anyMatch(a -> a instanceof ImapValue.Atom atom && atom.is(wanted))) {
                String wire = v.get(3).asText();
                if (wire != null) {
                    return Optional.of(wire);
                }
            }
        }
        return Optional.empty();
    }

    /** A name as the server sent it, quoted for a command. */
    static String quoted(String wire) {
        return '"' + wire.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    static boolean isSpecialUse(String use) {
        return SPECIAL_USE.contains(use.toUpperCase(Locale.ROOT));
    }

    /** The commands for the marked UIDs (ascending), in the order they must run; none when nothing is marked. */
    List<String> commands(List<Long> marked) {
        List<String> commands = new ArrayList<>();
        if (marked.isEmpty()) {
            return commands;
        }
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
        return commands;
    }

    /** The policy as the log names it: {@code expunge}, {@code keep}, {@code seen}, {@code move:FOLDER}. */
    String describe() {
        return describe(onDelete);
    }

    /** What happened to the messages, for the client's QUIT reply. */
    String outcome() {
        return outcome(onDelete);
    }

    /** {@link #describe()} of any source's policy (Graph's adds the folder it maps a special use to). */
    static String describe(OnDelete onDelete) {
        return onDelete.kind() == OnDelete.Kind.MOVE
                ? "move:" + onDelete.moveTo().orElse("")
                : onDelete.kind().name().toLowerCase(Locale.ROOT);
    }

    /** {@link #outcome()} of any source's policy. */
    static String outcome(OnDelete onDelete) {
        return switch (onDelete.kind()) {
            case EXPUNGE -> "deleted";
            case KEEP -> "kept";
            case SEEN -> "marked read";
            case MOVE -> "moved";
        };
    }

    /** The reply to a QUIT whose on-delete went through for all {@code count} marked messages. */
    static Pop3Response signingOff(OnDelete onDelete, int count) {
        return Pop3Response.ok("mailproxy POP3 signing off"
                + (count == 0 ? "" : " (" + count + " messages " + outcome(onDelete) + ")"));
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
}
