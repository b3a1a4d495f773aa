package io.mailproxy.imap.policy;

import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.core.imap.ModifiedUtf7;
import io.mailproxy.imap.codec.ImapCommandLine;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A client's IMAP policy (DESIGN "Per-client behaviour"): {@code read-only} refuses every command that changes
 * server state, UID forms included, and turns SELECT into EXAMINE; {@code folders} is an allow-list applied to every
 * command that names a mailbox (and to the IMAP URLs of an APPEND's CATENATE parts, RFC 4469), and to LIST, LSUB
 * and STATUS results.
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
            "SETACL", "DELETEACL", "SETQUOTA", "SETMETADATA", "SETANNOTATION", "REPLACE", "RESETKEY", "GENURLAUTH");

    /** What an IMAP command name looks like (RFC 3501 atoms used as command names, X- extensions included). */
    private static final java.util.regex.Pattern COMMAND_WORD = java.util.regex.Pattern.compile("[A-Z][A-Z0-9._-]*");

    /** URLAUTH (RFC 4467) commands: their URLs name mailboxes. */
    private static final Set<String> URL_COMMANDS = Set.of("GENURLAUTH", "URLFETCH", "RESETKEY",
            // and commands whose mailbox lists have a syntax of their own (RFC 7377 ESEARCH IN (...), RFC 5465
            // NOTIFY SET (...)): not judged, so refused under an allow-list (Office 365 offers neither)
            "ESEARCH", "NOTIFY");

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
            // no command word to judge: with a policy, refused rather than guessed at (the upstream would parse it
            // its own way)
            return readOnly ? Verdict.DENY_READ_ONLY : folders.isEmpty() ? Verdict.ALLOW : Verdict.DENY_FOLDER;
        }
        if ((readOnly || !folders.isEmpty())
                && !(values.get(0) instanceof ImapValue.Atom tag && ImapCommandLine.isTag(tag.value()))) {
            // not a tag by RFC 3501's grammar ("a%b", "\"a\""): a server may split the command elsewhere than this
            // parser did, so it is refused rather than guessed at (the relay already answers BAD to most of these)
            return readOnly ? Verdict.DENY_READ_ONLY : Verdict.DENY_FOLDER;
        }
        String command = upper(values.get(1));
        int argsFrom = 2;
        if (command.equals("UID") && values.size() > 2) {
            command = upper(values.get(2));
            argsFrom = 3;
        }
        if ((readOnly || !folders.isEmpty()) && !COMMAND_WORD.matcher(command).matches()) {
            // not a command word as servers read one ("SELECT\tINBOX" is one atom here, but a server that splits
            // at the tab would SELECT read-write): refused rather than guessed at
            return readOnly ? Verdict.DENY_READ_ONLY : Verdict.DENY_FOLDER;
        }
        if (readOnly && CHANGES_STATE.contains(command)) {
            return Verdict.DENY_READ_ONLY;
        }
        if (!folders.isEmpty()) {
            List<ImapValue> args = values.subList(argsFrom, values.size());
            if (URL_COMMANDS.contains(command) || (command.equals("ENABLE") && args.stream()
                    .anyMatch(a -> a.asText() != null && a.asText().toUpperCase(Locale.ROOT).startsWith("UTF8=")))) {
                // URLAUTH's URLs name mailboxes in their own syntax; UTF8=ACCEPT makes mailbox names raw UTF-8,
                // which the allow-list (modified UTF-7 on the wire) would misread: neither is judged, so refused
                return Verdict.DENY_FOLDER;
            }
            if (!complete && !mailboxesPresent(command, args)) {
                return Verdict.DENY_FOLDER;
            }
            for (ImapValue mailbox : mailboxes(command, args)) {
                String name = mailbox.asText();
                if (name == null || !allowed(name)) {
                    return Verdict.DENY_FOLDER;
                }
            }
            if (command.equals("APPEND") && !catenateUrlsAllowed(args.size() > 1 ? args.subList(1, args.size())
                    : List.of(), false)) {
                return Verdict.DENY_FOLDER;
            }
        }
        if (readOnly && command.equals("SELECT") && argsFrom == 2) {
            return Verdict.ALLOW_AS_EXAMINE;
        }
        return Verdict.ALLOW;
    }

    /**
     * For a segment of an APPEND that follows a literal the relay already streamed upstream (the rest of a
     * MULTIAPPEND, or of a CATENATE list): false when it holds a CATENATE URL this client may not read. Always true
     * without an allow-list.
     */
    public boolean allowsAppendContinuation(List<ImapValue> segment) {
        return folders.isEmpty() || catenateUrlsAllowed(segment, true);
    }

    /**
     * CATENATE (RFC 4469) builds the appended message from parts that may be IMAP URLs naming other messages of the
     * same account ({@code URL "/Trash;UIDVALIDITY=1/;UID=7"}): the upstream copies them, so with an allow-list a
     * URL may only name an allowed mailbox. A URL whose mailbox cannot be judged here (relative, a literal not yet
     * read, a dot segment, bad %-encoding) is refused. With {@code bareUrls} a URL part outside a
     * {@code CATENATE (...)} list also counts: a segment after a literal can be the middle of such a list.
     */
    private boolean catenateUrlsAllowed(List<ImapValue> values, boolean bareUrls) {
        for (int i = 0; i < values.size(); i++) {
            ImapValue v = values.get(i);
            if (v instanceof ImapValue.Atom a && a.is("CATENATE")) {
                if (i + 1 >= values.size()) {
                    return false; // its list is not here to judge
                }
                if (values.get(i + 1) instanceof ImapValue.Parens p && !urlsAllowed(p.items())) {
                    return false;
                }
                i++;
            } else if (bareUrls && v instanceof ImapValue.Atom a && a.is("URL")) {
                if (!urlAllowed(i + 1 < values.size() ? values.get(i + 1) : null)) {
                    return false;
                }
                i++;
            }
        }
        return true;
    }

    /** The URL parts of a CATENATE list: each {@code URL} must be followed by a URL to an allowed mailbox. */
    private boolean urlsAllowed(List<ImapValue> parts) {
        for (int i = 0; i < parts.size(); i++) {
            if (parts.get(i) instanceof ImapValue.Atom a && a.is("URL")) {
                if (!urlAllowed(i + 1 < parts.size() ? parts.get(i + 1) : null)) {
                    return false;
                }
                i++;
            }
        }
        return true;
    }

    private boolean urlAllowed(ImapValue url) {
        String text = url == null ? null : url.asText();
        String mailbox = text == null ? null : urlMailbox(text);
        // an IMAP URL names its mailbox in percent-encoded UTF-8 (RFC 5092), not in modified UTF-7
        return mailbox != null && allowedName(mailbox);
    }

    /**
     * The mailbox an IMAP URL (RFC 5092) names, as a wire name: {@code imap://user@host/Enc%20Box;UIDVALIDITY=1/;UID=2}
     * or {@code /Enc%20Box/;UID=2} give {@code Enc Box}. Null for a relative URL or one that cannot be judged.
     */
    /** What may follow the mailbox in a CATENATE URL: [;UIDVALIDITY=n] /;UID=n [/;SECTION=x] [/;PARTIAL=n[.n]] [;URLAUTH...]. */
    private static final java.util.regex.Pattern URL_TAIL = java.util.regex.Pattern.compile(
            "(?i)(;UIDVALIDITY=[0-9]+)?/;UID=[0-9]+(/;SECTION=[A-Za-z0-9.%_-]*)?(/;PARTIAL=[0-9]+(\\.[0-9]+)?)?"
                    + "(;(EXPIRE|URLAUTH)=[^/?#]*)*");

    static String urlMailbox(String url) {
        String rest = url;
        if (rest.regionMatches(true, 0, "imap://", 0, 7)) {
            int slash = rest.indexOf('/', 7);
            if (slash < 0) {
                return null;
            }
            rest = rest.substring(slash);
        }
        if (!rest.startsWith("/")) {
            return null; // relative to the selected mailbox, or not a URL: not judged, so refused
        }
        int end = rest.length();
        for (char c : new char[] {';', '?'}) {
            int at = rest.indexOf(c);
            if (at >= 0 && at < end) {
                end = at;
            }
        }
        // after the mailbox only a message's parts (RFC 5092 / 4469): no dot segment, no second path, nothing the
        // server would resolve to another mailbox
        String enc = rest.substring(1, end);
        String tail = (enc.endsWith("/") ? "/" : "") + rest.substring(end);
        if (!URL_TAIL.matcher(tail).matches()) {
            return null;
        }
        if (enc.endsWith("/")) {
            enc = enc.substring(0, enc.length() - 1);
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (int i = 0; i < enc.length(); i++) {
            char c = enc.charAt(i);
            if (c == '%') {
                if (i + 2 >= enc.length()) {
                    return null;
                }
                int hi = Character.digit(enc.charAt(i + 1), 16);
                int lo = Character.digit(enc.charAt(i + 2), 16);
                if (hi < 0 || lo < 0) {
                    return null;
                }
                out.write(hi * 16 + lo);
                i += 2;
            } else if (c > 0x7e || c < 0x21) {
                return null;
            } else {
                out.write(c);
            }
        }
        String name = out.toString(java.nio.charset.StandardCharsets.UTF_8);
        for (String segment : name.split("/", -1)) {
            if (segment.equals(".") || segment.equals("..")) {
                return null;
            }
        }
        return name.isEmpty() ? null : name;
    }

    /** True when all mailbox arguments the command has are among {@code args}. */
    private static boolean mailboxesPresent(String command, List<ImapValue> args) {
        if (FIRST_ARG_IS_MAILBOX.contains(command)) {
            return !args.isEmpty();
        }
        return switch (command) {
            case "RENAME", "COPY", "MOVE", "REPLACE" -> args.size() >= 2;
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
            case "COPY", "MOVE", "REPLACE" -> args.size() >= 2 ? List.of(args.get(1)) : List.of();
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
        return allowedName(ModifiedUtf7.decode(wireName));
    }

    /** {@link #allowed} for a name already in Unicode. */
    private boolean allowedName(String name) {
        if (folders.isEmpty()) {
            return true;
        }
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
        if ((kind.equals("LIST") || kind.equals("LSUB")) && values.size() > 4
                && values.get(4) instanceof ImapValue.Parens ext && !extendedNamesAllowed(ext.items())) {
            return false; // an OLDNAME (RFC 5465) outside the allow-list
        }
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

    /** LIST-EXTENDED extension items: an OLDNAME ("OLDNAME" ("name")) must be allowed too. */
    private boolean extendedNamesAllowed(List<ImapValue> items) {
        for (int i = 0; i + 1 < items.size(); i++) {
            if ("OLDNAME".equals(upper(items.get(i))) && items.get(i + 1) instanceof ImapValue.Parens old) {
                for (ImapValue n : old.items()) {
                    String t = n.asText();
                    if (t == null || !allowed(t)) {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    /** True when an untagged response starting with these bytes is one {@link #showResponse} judges. */
    public static boolean isFilteredResponse(String firstSegment) {
        String s = firstSegment.length() > 40 ? firstSegment.substring(0, 40) : firstSegment;
        s = s.toUpperCase(Locale.ROOT).replaceAll("[ \\t]+", " "); // "*  LIST" is LIST too
        // not ESEARCH: a large single-mailbox result would be dropped at max-filtered-response, and results that name
        // a MAILBOX come only from the ESEARCH command (RFC 7377), which is refused under an allow-list
        return s.startsWith("* LIST ") || s.startsWith("* LSUB ") || s.startsWith("* XLIST ") || s.startsWith("* STATUS ");
    }

    private static String upper(ImapValue v) {
        String t = v.asText();
        return t == null ? "" : t.toUpperCase(Locale.ROOT);
    }

}
