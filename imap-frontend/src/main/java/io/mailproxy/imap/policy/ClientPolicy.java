package io.mailproxy.imap.policy;

import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.core.imap.ModifiedUtf7;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A client's IMAP policy (DESIGN "Per-client behaviour"): {@code read-only} refuses every command that changes
 * server state, UID forms included, and turns SELECT into EXAMINE; {@code folders} is an allow-list applied to every
 * command that names a mailbox, and to LIST, LSUB and STATUS results.
 *
 * <p>Allow-list entries are mailbox names in Unicode (the wire's modified UTF-7 is decoded before comparing);
 * {@code INBOX} matches in any case; an entry ending in {@code *} matches every name that starts with the rest.
 */
public final class ClientPolicy {

    /** What to do with a command. */
    public enum Verdict {
        ALLOW,
        /** Read-only: send EXAMINE instead of SELECT. */
        ALLOW_AS_EXAMINE,
        /** {@code NO [NOPERM]}: the client is read-only. */
        DENY_READ_ONLY,
        /** {@code NO [NOPERM]}: a mailbox outside the allow-list. */
        DENY_FOLDER
    }

    private static final Set<String> CHANGES_STATE = Set.of(
            "APPEND", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "STORE", "COPY", "MOVE", "EXPUNGE",
            "SETACL", "DELETEACL", "SETQUOTA", "SETMETADATA", "SETANNOTATION", "REPLACE");

    /** Commands naming mailboxes, with the positions of the mailbox arguments (after tag and command word). */
    private static final Set<String> FIRST_ARG_IS_MAILBOX = Set.of(
            "SELECT", "EXAMINE", "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "STATUS", "APPEND", "GETACL",
            "SETACL", "DELETEACL", "MYRIGHTS", "LISTRIGHTS", "GETQUOTAROOT");

    public static final ClientPolicy NONE = new ClientPolicy(false, List.of());

    private final boolean readOnly;
    private final List<String> folders;

    private ClientPolicy(boolean readOnly, List<String> folders) {
        this.readOnly = readOnly;
        this.folders = List.copyOf(folders);
    }

    public static ClientPolicy of(ClientConfig.ImapPolicy policy) {
        return new ClientPolicy(policy.readOnly(), policy.folders());
    }

    public boolean readOnly() {
        return readOnly;
    }

    public boolean restrictsFolders() {
        return !folders.isEmpty();
    }

    /** Judges a whole command: {@code values} are the parsed command (tag, command word, arguments). */
    public Verdict check(List<ImapValue> values) {
        return check(values, true);
    }

    /**
     * Judges a command, or with {@code complete} false the prefix of one that a large streamed literal follows: a
     * mailbox argument not in the prefix (it is, or comes after, that literal) cannot be judged, so it is refused.
     */
    public Verdict check(List<ImapValue> values, boolean complete) {
        if (values.size() < 2) {
            return Verdict.ALLOW;
        }
        String command = upper(values.get(1));
        int argsFrom = 2;
        if (command.equals("UID") && values.size() > 2) {
            command = upper(values.get(2));
            argsFrom = 3;
        }
        if (readOnly && CHANGES_STATE.contains(command)) {
            return Verdict.DENY_READ_ONLY;
        }
        if (!folders.isEmpty()) {
            List<ImapValue> args = values.subList(argsFrom, values.size());
            if (!complete && !mailboxesPresent(command, args)) {
                return Verdict.DENY_FOLDER;
            }
            for (ImapValue mailbox : mailboxes(command, args)) {
                String name = mailbox.asText();
                if (name == null || !allowed(name)) {
                    return Verdict.DENY_FOLDER;
                }
            }
        }
        if (readOnly && command.equals("SELECT") && argsFrom == 2) {
            return Verdict.ALLOW_AS_EXAMINE;
        }
        return Verdict.ALLOW;
    }

    /** True when all mailbox arguments the command has are among {@code args}. */
    private static boolean mailboxesPresent(String command, List<ImapValue> args) {
        if (FIRST_ARG_IS_MAILBOX.contains(command)) {
            return !args.isEmpty();
        }
        return switch (command) {
            case "RENAME", "COPY", "MOVE" -> args.size() >= 2;
            case "GETMETADATA", "SETMETADATA" -> args.stream().anyMatch(v -> !(v instanceof ImapValue.Parens));
            default -> true;
        };
    }

    private static List<ImapValue> mailboxes(String command, List<ImapValue> args) {
        if (FIRST_ARG_IS_MAILBOX.contains(command)) {
            return args.isEmpty() ? List.of() : List.of(args.get(0));
        }
        return switch (command) {
            case "RENAME" -> args.size() >= 2 ? List.of(args.get(0), args.get(1)) : args;
            case "COPY", "MOVE" -> args.size() >= 2 ? List.of(args.get(1)) : List.of();
            case "GETMETADATA", "SETMETADATA" -> args.stream().filter(v -> !(v instanceof ImapValue.Parens)).limit(1)
                    .filter(v -> !"".equals(v.asText())).toList();
            default -> List.of();
        };
    }

    /** True when the wire name (modified UTF-7) is in the allow-list (always true without one). */
    public boolean allowed(String wireName) {
        if (folders.isEmpty()) {
            return true;
        }
        String name = ModifiedUtf7.decode(wireName);
        for (String entry : folders) {
            if (entry.endsWith("*")) {
                String prefix = entry.substring(0, entry.length() - 1);
                if (name.startsWith(prefix) || (prefix.toUpperCase(Locale.ROOT).startsWith("INBOX")
                        && name.toUpperCase(Locale.ROOT).startsWith(prefix.toUpperCase(Locale.ROOT)))) {
                    return true;
                }
            } else if (entry.equals(name) || (entry.equalsIgnoreCase("INBOX") && name.equalsIgnoreCase("INBOX"))) {
                return true;
            }
        }
        return false;
    }

    /**
     * For a filtered untagged response ({@code * LIST}, {@code * LSUB}, {@code * XLIST}, {@code * STATUS}): true
     * when the client may see it. Other responses always pass, and so does a LIST line for the empty name (the
     * hierarchy delimiter).
     */
    public boolean showResponse(List<ImapValue> values) {
        if (folders.isEmpty() || values.isEmpty()) {
            return true;
        }
        String kind = upper(values.get(0));
        ImapValue name = switch (kind) {
            case "LIST", "LSUB", "XLIST" -> values.size() > 3 ? values.get(3) : null;
            case "STATUS" -> values.size() > 1 ? values.get(1) : null;
            default -> null;
        };
        if (name == null) {
            return !kind.equals("LIST") && !kind.equals("LSUB") && !kind.equals("XLIST") && !kind.equals("STATUS");
        }
        String text = name.asText();
        if ("".equals(text) && !kind.equals("STATUS")) {
            // the answer to LIST "" "": the hierarchy delimiter and the root name (RFC 3501 section 6.3.8), not a
            // mailbox; clients ask for it before anything else (offlineimap, mutt, Thunderbird)
            return true;
        }
        return text != null && allowed(text);
    }

    /** True when an untagged response starting with these bytes is one {@link #showResponse} judges. */
    public static boolean isFilteredResponse(String firstSegment) {
        String s = firstSegment.length() > 10 ? firstSegment.substring(0, 10) : firstSegment;
        s = s.toUpperCase(Locale.ROOT);
        return s.startsWith("* LIST ") || s.startsWith("* LSUB ") || s.startsWith("* XLIST ") || s.startsWith("* STATUS ");
    }

    private static String upper(ImapValue v) {
        String t = v.asText();
        return t == null ? "" : t.toUpperCase(Locale.ROOT);
    }

}
