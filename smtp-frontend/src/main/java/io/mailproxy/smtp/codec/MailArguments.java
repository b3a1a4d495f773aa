package io.mailproxy.smtp.codec;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The argument of {@code MAIL FROM:} or {@code RCPT TO:} (RFC 5321 4.1.2): a path and ESMTP parameters.
 *
 * @param address    the mailbox without angle brackets and without a source route; empty for the null sender
 * @param parameters upper-cased keywords in the order sent; a parameter without {@code =} maps to {@code null}
 */
public record MailArguments(String address, Map<String, String> parameters) {

    /** RFC 5321 4.5.3.1.3: the longest path. */
    public static final int MAX_PATH = 256;

    public MailArguments {
        parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
    }

    /**
     * @param keyword {@code "FROM"} or {@code "TO"}
     * @throws IllegalArgumentException when the argument is not {@code KEYWORD:<path> [params]}
     */
    public static MailArguments parse(String argument, String keyword) {
        String prefix = keyword + ":";
        if (argument.length() < prefix.length()
                || !argument.substring(0, prefix.length()).toUpperCase(Locale.ROOT).equals(prefix)) {
            throw new IllegalArgumentException("expected " + prefix + "<address>");
        }
        String rest = argument.substring(prefix.length());
        int i = 0;
        while (i < rest.length() && rest.charAt(i) == ' ') {
            i++; // tolerated: "MAIL FROM: <a@b>" is common
        }
        String path;
        int after;
        if (i < rest.length() && rest.charAt(i) == '<') {
            int close = closingBracket(rest, i + 1);
            if (close < 0) {
                throw new IllegalArgumentException("unbalanced < > in the path");
            }
            path = rest.substring(i + 1, close);
            after = close + 1;
        } else {
            int sp = rest.indexOf(' ', i);
            after = sp < 0 ? rest.length() : sp;
            path = rest.substring(i, after);
            if (path.isEmpty()) {
                throw new IllegalArgumentException("no address");
            }
        }
        if (path.startsWith("@")) {
            int colon = path.indexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("bad source route");
            }
            path = path.substring(colon + 1); // RFC 5321 4.1.1.3: source routes are ignored
        }
        checkPath(path);
        Map<String, String> params = new LinkedHashMap<>();
        if (after < rest.length()) {
            if (rest.charAt(after) != ' ') {
                throw new IllegalArgumentException("expected a space after the path");
            }
            for (String token : rest.substring(after + 1).split(" ")) {
                if (token.isEmpty()) {
                    continue;
                }
                int eq = token.indexOf('=');
                String key = (eq < 0 ? token : token.substring(0, eq)).toUpperCase(Locale.ROOT);
                String value = eq < 0 ? null : token.substring(eq + 1);
                if (key.isEmpty() || !key.chars().allMatch(c -> Character.isLetterOrDigit(c) || c == '-')
                        || (value != null && value.chars().anyMatch(c -> c < 33 || c == '=' || c == 127))) {
                    throw new IllegalArgumentException("bad parameter " + token);
                }
                if (params.containsKey(key)) {
                    throw new IllegalArgumentException("parameter " + key + " given twice");
                }
                params.put(key, value);
            }
        }
        return new MailArguments(path, params);
    }

    private static int closingBracket(String s, int from) {
        boolean quoted = false;
        for (int i = from; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quoted && c == '\\') {
                i++;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == '>' && !quoted) {
                return i;
            }
        }
        return -1;
    }

    private static void checkPath(String path) {
        if (path.length() > MAX_PATH) {
            throw new IllegalArgumentException("path longer than " + MAX_PATH + " octets");
        }
        boolean quoted = false;
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c < 32 || c == 127) {
                throw new IllegalArgumentException("control character in the path");
            }
            if (c == '"') {
                quoted = !quoted;
            } else if ((c == ' ' || c == '<' || c == '>') && !quoted) {
                throw new IllegalArgumentException("bad character in the path");
            }
        }
        if (!path.isEmpty() && path.lastIndexOf('@') <= 0 && !path.equalsIgnoreCase("postmaster")) {
            throw new IllegalArgumentException("the path is not a mailbox");
        }
    }

    /** The path as it goes on the wire again: {@code <address>}. */
    public String path() {
        return "<" + address + ">";
    }

    /** Whether any part of the address is not ASCII (needs SMTPUTF8, RFC 6531). */
    public boolean needsUtf8() {
        return address.chars().anyMatch(c -> c > 127);
    }
}
