package io.mailproxy.pop3.codec;

/**
 * A status line ({@code +OK ...}, {@code -ERR ...}) or a SASL continuation ({@code + ...}), without CRLF. For a
 * multi-line response, write the status line, then {@link Pop3Data} chunks (unstuffed), then {@link Pop3Data#END}.
 */
public record Pop3Response(String line) {

    public Pop3Response {
        if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("a response line holds no CR or LF");
        }
    }

    public static Pop3Response ok(String text) {
        return new Pop3Response(text.isEmpty() ? "+OK" : "+OK " + text);
    }

    /** {@code text} may start with an RFC 2449 response code, e.g. {@code "[AUTH] Authentication failed"}. */
    public static Pop3Response err(String text) {
        return new Pop3Response(text.isEmpty() ? "-ERR" : "-ERR " + text);
    }

    /** RFC 5034 server challenge: {@code "+ "} and base64 (empty for PLAIN). */
    public static Pop3Response continuation(String base64) {
        return new Pop3Response("+ " + base64);
    }

    public boolean isOk() {
        return line.startsWith("+OK");
    }
}
