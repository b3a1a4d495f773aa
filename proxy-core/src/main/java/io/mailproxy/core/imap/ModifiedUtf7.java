package io.mailproxy.core.imap;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** Mailbox name encoding of RFC 3501 section 5.1.3 (modified UTF-7). */
public final class ModifiedUtf7 {

    private static final Base64.Encoder ENCODER = Base64.getEncoder().withoutPadding();
    private static final Base64.Decoder DECODER = Base64.getDecoder();

    private ModifiedUtf7() { }

    /** Encodes a mailbox name for the wire: printable ASCII stays, {@code &} becomes {@code &-}, the rest is shifted. */
    public static String encode(String name) {
        StringBuilder out = new StringBuilder(name.length() + 8);
        int i = 0;
        while (i < name.length()) {
            char c = name.charAt(i);
            if (c >= 0x20 && c <= 0x7e) {
                out.append(c == '&' ? "&-" : String.valueOf(c));
                i++;
                continue;
            }
            int j = i;
            while (j < name.length() && (name.charAt(j) < 0x20 || name.charAt(j) > 0x7e)) {
                j++;
            }
            byte[] utf16 = name.substring(i, j).getBytes(StandardCharsets.UTF_16BE);
            out.append('&').append(ENCODER.encodeToString(utf16).replace('/', ',')).append('-');
            i = j;
        }
        return out.toString();
    }

    /**
     * Decodes a wire mailbox name. A name that is not valid modified UTF-7 (an 8-bit UTF-8 name from a server with
     * UTF8=ACCEPT, or a stray {@code &}) is returned unchanged.
     */
    public static String decode(String wire) {
        if (wire.indexOf('&') < 0) {
            return wire;
        }
        StringBuilder out = new StringBuilder(wire.length());
        int i = 0;
        while (i < wire.length()) {
            char c = wire.charAt(i);
            if (c != '&') {
                out.append(c);
                i++;
                continue;
            }
            int dash = wire.indexOf('-', i + 1);
            if (dash < 0) {
                return wire;
            }
            if (dash == i + 1) {
                out.append('&');
            } else {
                try {
                    byte[] utf16 = DECODER.decode(wire.substring(i + 1, dash).replace(',', '/'));
                    if (utf16.length % 2 != 0) {
                        return wire;
                    }
                    out.append(new String(utf16, StandardCharsets.UTF_16BE));
                } catch (IllegalArgumentException e) {
                    return wire;
                }
            }
            i = dash + 1;
        }
        return out.toString();
    }

    /** The name encoded and as a quoted string, ready to put in a command: {@code "Entw&APw-rfe"}. */
    public static String quoted(String name) {
        return '"' + encode(name).replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }
}
