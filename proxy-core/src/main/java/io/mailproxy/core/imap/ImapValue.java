package io.mailproxy.core.imap;

import java.nio.charset.StandardCharsets;
import java.util.List;

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
     * Parses {@code data[from, to)}, wire bytes of response data (or of a client command) with literals inline
     * ({@code {n}CRLF} or {@code {n+}CRLF} and n bytes). Parsing is lenient: a malformed piece ends the list early
     * rather than failing.
     */
    static List<ImapValue> parse(byte[] data, int from, int to) {
        return new ImapValueParser(data, from, to, true).list(false);
    }

    /**
     * Parses a client's command for a policy that judges its command word and mailbox arguments: no section syntax,
     * so a {@code [} is a plain atom character and can never hide what follows it (a tag {@code a[}, a flag
     * {@code foo[}, even {@code BODY[}), exactly as a server parses those arguments.
     */
    public static List<ImapValue> parseArguments(byte[] data, int from, int to) {
        return new ImapValueParser(data, from, to, false).list(false);
    }
}
