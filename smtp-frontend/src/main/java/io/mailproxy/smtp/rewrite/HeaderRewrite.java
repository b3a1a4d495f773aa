package io.mailproxy.smtp.rewrite;

import io.mailproxy.core.config.ClientConfig.SmtpPolicy.OriginalFrom;
import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeUtility;
import java.io.UnsupportedEncodingException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The header-block rewrite of {@code sender = rewrite} (RFC 5322 3.6.2):
 * <ul>
 * <li>{@code From:} becomes the account's address; the display name of a single original mailbox is kept (decoded
 *     from RFC 2047 and encoded again as needed); several mailboxes or a group lose it.</li>
 * <li>{@code Sender:} becomes the account's address.</li>
 * <li>the original From goes to a new {@code Reply-To:} (when the message has none and it is not the account's own
 *     address), or is dropped ({@code original-from = drop}).</li>
 * <li>every other field keeps its bytes, folding and order.</li>
 * </ul>
 * Text is handled as ISO-8859-1 so every octet (8-bit or UTF-8 header text) survives unchanged; dot-stuffed lines
 * are unstuffed for parsing and stuffed again on output.
 */
final class HeaderRewrite {

    private final String from;
    private final OriginalFrom originalFrom;

    HeaderRewrite(String from, OriginalFrom originalFrom) {
        this.from = from;
        this.originalFrom = originalFrom;
    }

    /** @param block header lines, each ending in CRLF, dot-stuffed; returns the same form */
    String apply(String block) {
        List<String> fields = split(block);
        int fromIndex = -1;
        boolean hasReplyTo = false;
        for (int i = 0; i < fields.size(); i++) {
            String name = name(fields.get(i));
            if (name.equals("from") && fromIndex < 0) {
                fromIndex = i;
            } else if (name.equals("reply-to")) {
                hasReplyTo = true;
            }
        }
        List<String> out = new ArrayList<>(fields.size() + 2);
        boolean senderWritten = false;
        java.util.Set<String> resentWritten = new java.util.HashSet<>();
        if (fromIndex < 0) {
            out.add(fromField(null));
        }
        for (int i = 0; i < fields.size(); i++) {
            String field = fields.get(i);
            String name = name(field);
            if (i == fromIndex) {
                String value = value(field);
                InternetAddress[] original = parse(value);
                out.add(fromField(original));
                if (originalFrom == OriginalFrom.REPLY_TO && !hasReplyTo && original != null
                        && original.length > 0 && !onlyAccount(original)) {
                    out.add("Reply-To:" + value);
                }
            } else if (name.equals("from")) {
                continue; // a second From: would contradict the first; RFC 5322 allows one
            } else if (name.equals("sender")) {
                if (!senderWritten) { // RFC 5322 allows one; each kept copy would grow the message past its SIZE
                    out.add("Sender: " + from + "\r\n");
                    senderWritten = true;
                }
            } else if (name.equals("resent-from") || name.equals("resent-sender")) {
                // mail readers show these as the sender of a resent message: the account's, like From: and Sender:,
                // once each (more copies would only grow the message past its declared SIZE)
                if (resentWritten.add(name)) {
                    out.add((name.equals("resent-from") ? "Resent-From: " : "Resent-Sender: ") + from + "\r\n");
                }
            } else {
                out.add(field);
            }
        }
        StringBuilder sb = new StringBuilder(block.length() + 256);
        for (String field : out) {
            stuff(field, sb);
        }
        return sb.toString();
    }

    /** Splits into fields, each with its continuation lines and CRLFs, dot-stuffing removed. */
    private static List<String> split(String block) {
        List<String> fields = new ArrayList<>();
        StringBuilder current = null;
        int pos = 0;
        while (pos < block.length()) {
            int eol = block.indexOf("\r\n", pos);
            int next = eol < 0 ? block.length() : eol + 2;
            String line = block.substring(pos, next);
            if (line.startsWith(".")) {
                line = line.substring(1);
            }
            pos = next;
            boolean continuation = !line.isEmpty() && (line.charAt(0) == ' ' || line.charAt(0) == '\t');
            if (continuation && current != null) {
                current.append(line);
            } else {
                if (current != null) {
                    fields.add(current.toString());
                }
                current = new StringBuilder(line);
            }
        }
        if (current != null) {
            fields.add(current.toString());
        }
        return fields;
    }

    private static void stuff(String field, StringBuilder sb) {
        int pos = 0;
        while (pos < field.length()) {
            int eol = field.indexOf("\r\n", pos);
            int next = eol < 0 ? field.length() : eol + 2;
            if (field.charAt(pos) == '.') {
                sb.append('.');
            }
            sb.append(field, pos, next);
            pos = next;
        }
    }

    /** Lower-cased field name, or "" for a line that is not a field. */
    private static String name(String field) {
        int colon = field.indexOf(':');
        if (colon <= 0) {
            return "";
        }
        String name = field.substring(0, colon).trim();
        return name.chars().allMatch(c -> c > 32 && c < 127) ? name.toLowerCase(Locale.ROOT) : "";
    }

    /** The raw value after the colon, folding and final CRLF included. */
    private static String value(String field) {
        return field.substring(field.indexOf(':') + 1);
    }

    /** Parses an address list (groups included); null when it is not one. */
    private static InternetAddress[] parse(String rawValue) {
        String unfolded = asUtf8(rawValue).replace("\r\n", "").trim();
        try {
            return InternetAddress.parseHeader(unfolded, false);
        } catch (AddressException e) {
            return null;
        }
    }

    /** Header text sent as UTF-8 (RFC 6532) reads back as characters; other 8-bit text stays as it is. */
    private static String asUtf8(String latin1) {
        byte[] bytes = latin1.getBytes(StandardCharsets.ISO_8859_1);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            return latin1;
        }
    }

    private boolean onlyAccount(InternetAddress[] addresses) {
        for (InternetAddress a : addresses) {
            if (a.isGroup() || a.getAddress() == null || !a.getAddress().equalsIgnoreCase(from)) {
                return false;
            }
        }
        return true;
    }

    /** {@code From: "Display" <account>}, folded at 76 columns, display name RFC 2047-encoded when not ASCII. */
    private String fromField(InternetAddress[] original) {
        String personal = null;
        if (original != null && original.length == 1 && !original[0].isGroup()) {
            personal = original[0].getPersonal();
            if (personal != null) {
                // a decoded encoded-word may hold CR, LF or other controls, which Angus would write out unencoded
                personal = personal.replaceAll("[\\x00-\\x1F\\x7F]+", " ").trim();
            }
            if (personal != null && (personal.isBlank() || personal.length() > SenderRewriter.MAX_PERSONAL
                    || personal.indexOf('@') >= 0 || personal.indexOf('<') >= 0 || personal.indexOf('>') >= 0)) {
                // a display name that looks like an address ("ceo@victim.example" <account>) would pass for
                // another sender where mail readers show only the name
                personal = null;
            }
        }
        String formatted;
        try {
            formatted = personal == null ? from : new InternetAddress(from, personal, "UTF-8").toString();
        } catch (UnsupportedEncodingException e) {
            formatted = from;
        }
        return "From: " + MimeUtility.fold(6, formatted).replace("\r\n", "\n").replace("\n", "\r\n") + "\r\n";
    }
}
