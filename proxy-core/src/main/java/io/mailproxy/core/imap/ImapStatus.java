package io.mailproxy.core.imap;

import java.util.Locale;

/** The status conditions of an IMAP response (RFC 3501 section 7.1). */
public enum ImapStatus {
    OK, NO, BAD, BYE, PREAUTH;

    /** The status named by {@code word} (any case), or null when it is not a status word. */
    static ImapStatus parse(CharSequence word) {
        if (word.length() < 2 || word.length() > 7) {
            return null;
        }
        return switch (word.toString().toUpperCase(Locale.ROOT)) {
            case "OK" -> OK;
            case "NO" -> NO;
            case "BAD" -> BAD;
            case "BYE" -> BYE;
            case "PREAUTH" -> PREAUTH;
            default -> null;
        };
    }
}
