package io.mailproxy.core.imap;

import io.mailproxy.core.imap.ImapValue.Atom;
import io.mailproxy.core.imap.ImapValue.Nil;
import io.mailproxy.core.imap.ImapValue.Parens;
import io.mailproxy.core.imap.ImapValue.Str;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** A cursor over IMAP data bytes, for {@link ImapValue#parse}. */
final class ImapValueParser {
    private final byte[] d;
    private final int end;
    /** Whether {@code BODY[...]}-style sections (with spaces and parentheses inside) are one atom. */
    private final boolean sections;
    private int pos;

    ImapValueParser(byte[] d, int from, int to, boolean sections) {
        this.d = d;
        this.pos = from;
        this.end = to;
        this.sections = sections;
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
            if (b == '\r' || b == '\n') {
                break; // a section never spans lines
            }
            if (b == '[' && (depth > 0 || (sections && sectionKeyword(start, pos)))) {
                depth++;
            } else if (b == ']' && depth > 0) {
                depth--;
            } else if (depth == 0 && endsAtom(b)) {
                break;
            }
            pos++;
        }
        if (depth > 0) {
            // an unclosed section is no section: the atom ends at the first delimiter, as if "[" were plain
            pos = start;
            while (pos < end && !endsAtom(d[pos])) {
                pos++;
            }
        }
        if (pos == start) {
            pos++; // a stray byte: skip it
        }
        return new String(d, start, pos - start, StandardCharsets.UTF_8);
    }

    /** A byte no atom holds outside a section (CR and LF end it even inside one, checked first). */
    private static boolean endsAtom(byte b) {
        return b == ' ' || b == '(' || b == ')' || b == '"' || b == '\r' || b == '\n';
    }

    private static final String[] SECTION_KEYWORDS = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE"};

    /** Whether the atom so far ({@code d[from, to)}) is a fetch attribute a section follows (RFC 3501, 3516). */
    private boolean sectionKeyword(int from, int to) {
        String word = new String(d, from, to - from, StandardCharsets.US_ASCII);
        for (String k : SECTION_KEYWORDS) {
            if (k.equalsIgnoreCase(word)) {
                return true;
            }
        }
        return false;
    }
}
