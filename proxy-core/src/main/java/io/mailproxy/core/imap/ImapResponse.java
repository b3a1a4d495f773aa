package io.mailproxy.core.imap;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A whole untagged response collected by {@link ImapClient#execute(String)}: the wire bytes without the final CRLF,
 * literals inline ({@code {n}CRLF} followed by n bytes).
 *
 * @param status OK, NO, BAD, BYE or PREAUTH when the response is a status response; null for data ({@code * 3 EXISTS})
 */
public record ImapResponse(ImapStatus status, byte[] raw) {

    /** The response as text (UTF-8). */
    public String text() {
        return new String(raw, StandardCharsets.UTF_8);
    }

    /** The values after the leading {@code *}: e.g. {@code [Atom 3, Atom FETCH, Parens[...]]}. */
    public List<ImapValue> values() {
        int from = raw.length > 0 && raw[0] == '*' ? 1 : 0;
        return ImapValue.parse(raw, from, raw.length);
    }

    /** True when the first value (or the second, after a number) is the atom {@code name}: {@code isA("SEARCH")}. */
    public boolean isA(String name) {
        List<ImapValue> v = values();
        for (int i = 0; i < Math.min(2, v.size()); i++) {
            if (v.get(i) instanceof ImapValue.Atom a && a.is(name)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String toString() {
        return "ImapResponse[" + text() + "]";
    }
}
