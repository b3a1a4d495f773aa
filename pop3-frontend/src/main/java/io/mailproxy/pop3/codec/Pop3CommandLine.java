package io.mailproxy.pop3.codec;

import java.util.Locale;

/**
 * One command line from the client, CRLF (or a bare LF) stripped. The text is decoded as ISO-8859-1, so every byte
 * maps to one char and {@link #bytes()} gives back exactly what the client sent (passwords may be UTF-8).
 */
public record Pop3CommandLine(String text) implements Pop3Request {

    /** The keyword, upper-cased (RFC 1939: keywords are case-insensitive). */
    public String verb() {
        int sp = text.indexOf(' ');
        return (sp < 0 ? text : text.substring(0, sp)).toUpperCase(Locale.ROOT);
    }

    /** Everything after the first space, as sent; empty when there is none. */
    public String argument() {
        int sp = text.indexOf(' ');
        return sp < 0 ? "" : text.substring(sp + 1);
    }

    public byte[] bytes() {
        return text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    @Override
    public String toString() {
        // never the argument: it may be a password or a SASL response
        return "Pop3CommandLine[" + verb() + "]";
    }
}
