package io.mailproxy.core.imap;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A value in IMAP response data (RFC 3501 section 4): an atom or number, a string (quoted or literal), NIL, or a
 * parenthesized list. Produced by {@link ImapResponse#values()}.
 */
public sealed interface ImapValue {

    /**
     * An atom, number or flag as sent ({@code FLAGS}, {@code 42}, {@code \Seen}, {@code BODY[HEADER]<0>}); an atom
     * with brackets keeps what is inside them, spaces and parentheses included ({@code [UIDVALIDITY 3]}).
     */
    record Atom(String value) implements ImapValue {
        public boolean is(String name) {
            return value.equalsIgnoreCase(name);
        }

        /** The atom as a number; NumberFormatException when it is not one. */
        public long asLong() {
            return Long.parseLong(value);
        }
    }

    /** A quoted string or a literal, unescaped. */
    record Str(byte[] bytes) implements ImapValue {
        public String asString() {
            return new String(bytes, StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            return "Str[" + asString() + "]";
        }
    }

    /** NIL. */
    record Nil() implements ImapValue {
        public static final Nil INSTANCE = new Nil();
    }

    /** A parenthesized list. */
    record Parens(List<ImapValue> items) implements ImapValue {
        public Parens {
            items = List.copyOf(items);
        }
    }

    /** The text of an atom or string (NIL and lists give null). */
    default String asText() {
        if (this instanceof Atom a) {
            return a.value();
        }
        if (this instanceof Str s) {
            return s.asString();
        }
        return null;
    }

    /**
     * Parses {@code data[from, to)}, wire bytes of response data with literals inline ({@code {n}CRLF} and n
     * bytes). Parsing is lenient: a malformed piece ends the list early rather than failing.
     */
    static List<ImapValue> parse(byte[] data, int from, int to) {
        Parser p = new Parser(data, from, to);
        return p.list(false);
    }

    /** A cursor over response bytes. */
    final class Parser {
        private final byte[] d;
        private final int end;
        private int pos;

        Parser(byte[] d, int from, int to) {
            this.d = d;
            this.pos = from;
            this.end = to;
        }

        List<ImapValue> list(boolean nested) {
            List<ImapValue> items = new ArrayList<>();
            while (true) {
                while (pos < end && (d[pos] == ' ' || d[pos] == '\r' || d[pos] == '\n')) {
                    pos++;
                }
                if (pos >= end) {
                    return items;
                }
                byte b = d[pos];
                if (b == ')') {
                    pos++;
                    if (nested) {
                        return items;
                    }
                    continue;
                }
                if (b == '(') {
                    pos++;
                    items.add(new Parens(list(true)));
                } else if (b == '"') {
                    items.add(quoted());
                } else if (b == '{' || (b == '~' && pos + 1 < end && d[pos + 1] == '{')) {
                    ImapValue lit = literal();
                    if (lit == null) {
                        return items;
                    }
                    items.add(lit);
                } else {
                    String atom = atom();
                    items.add(atom.toUpperCase(Locale.ROOT).equals("NIL") ? Nil.INSTANCE : new Atom(atom));
                }
            }
        }

        private ImapValue quoted() {
            pos++;
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            while (pos < end && d[pos] != '"') {
                if (d[pos] == '\\' && pos + 1 < end) {
                    pos++;
                }
                out.write(d[pos++]);
            }
            pos++; // closing quote
            return new Str(out.toByteArray());
        }

        private ImapValue literal() {
            if (d[pos] == '~') {
                pos++;
            }
            int close = pos;
            while (close < end && d[close] != '}') {
                close++;
            }
            long n;
            try {
                n = Long.parseLong(new String(d, pos + 1, close - pos - 1, StandardCharsets.US_ASCII).replace("+", ""));
            } catch (NumberFormatException e) {
                return null;
            }
            pos = close + 1;
            if (pos < end && d[pos] == '\r') {
                pos++;
            }
            if (pos < end && d[pos] == '\n') {
                pos++;
            }
            if (n < 0 || n > end - pos) {
                return null;
            }
            byte[] bytes = java.util.Arrays.copyOfRange(d, pos, pos + (int) n);
            pos += (int) n;
            return new Str(bytes);
        }

        private String atom() {
            int start = pos;
            int depth = 0;
            while (pos < end) {
                byte b = d[pos];
                if (b == '[') {
                    depth++;
                } else if (b == ']' && depth > 0) {
                    depth--;
                } else if (depth == 0 && (b == ' ' || b == '(' || b == ')' || b == '"' || b == '\r' || b == '\n')) {
                    break;
                }
                pos++;
            }
            if (pos == start) {
                pos++; // a stray byte: skip it
            }
            return new String(d, start, pos - start, StandardCharsets.UTF_8);
        }
    }
}
