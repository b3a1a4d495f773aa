package io.mailproxy.smtp.codec;

import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An SMTP reply (RFC 5321 4.2): a three-digit code and one or more text lines.
 *
 * @param lines the text after {@code "NNN-"} / {@code "NNN "} of each line (may be empty strings)
 */
public record SmtpReply(int code, List<String> lines) {

    private static final Pattern ENHANCED = Pattern.compile("^([245])\\.(\\d{1,3})\\.(\\d{1,3})(?:\\s|$)");

    public SmtpReply {
        if (code < 200 || code > 599) {
            throw new IllegalArgumentException("reply code out of range: " + code);
        }
        lines = List.copyOf(lines.isEmpty() ? List.of("") : lines);
    }

    public static SmtpReply of(int code, String text) {
        return new SmtpReply(code, List.of(text));
    }

    public boolean positive() {
        return code < 400;
    }

    public boolean transientFailure() {
        return code >= 400 && code < 500;
    }

    public boolean permanentFailure() {
        return code >= 500;
    }

    /** The RFC 3463 enhanced status code of the first line, e.g. {@code "5.7.60"}. */
    public Optional<String> enhancedCode() {
        Matcher m = ENHANCED.matcher(lines.get(0));
        return m.find() ? Optional.of(m.group(1) + "." + m.group(2) + "." + m.group(3)) : Optional.empty();
    }

    /** The wire form, every line ending in CRLF. */
    public String encode() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            sb.append(code).append(i == lines.size() - 1 ? ' ' : '-').append(lines.get(i)).append("\r\n");
        }
        return sb.toString();
    }

    /** One line for logs: {@code 550 5.7.60 SMTP; Client does not have permissions ... | second line}. */
    public String oneLine() {
        return code + " " + String.join(" | ", lines);
    }

    @Override
    public String toString() {
        return oneLine();
    }
}
