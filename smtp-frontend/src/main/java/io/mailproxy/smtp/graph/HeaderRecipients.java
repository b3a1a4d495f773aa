package io.mailproxy.smtp.graph;

import jakarta.mail.MessagingException;
import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.ContentType;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.InternetHeaders;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What a message's header block says about where Graph would send it: the To, Cc and Bcc addresses (Graph sends a
 * MIME message to exactly those: docs/research/graph-evidence.md, section 2) and whether the message is signed or
 * encrypted (a rebuilt MIME breaks it). Reads only the header block, at most {@code limit} octets.
 *
 * @param signed the top-level type is multipart/signed, multipart/encrypted or application/(x-)pkcs7-mime
 */
record HeaderRecipients(List<String> to, List<String> cc, List<String> bcc, boolean signed) {

    /** The header block is longer than the limit: the message is refused (552 5.3.4), as the sender rewriter does. */
    static final class TooLargeException extends IOException {
        TooLargeException(int limit) {
            super("header block over " + limit + " octets");
        }
    }

    private static final Set<String> SIGNED_TYPES = Set.of("multipart/signed", "multipart/encrypted",
            "application/pkcs7-mime", "application/x-pkcs7-mime");

    HeaderRecipients {
        to = List.copyOf(to);
        cc = List.copyOf(cc);
        bcc = List.copyOf(bcc);
    }

    /** Reads the header block of the (unstuffed) message {@code in}; blocking. */
    static HeaderRecipients read(InputStream in, int limit) throws IOException {
        ByteArrayOutputStream block = new ByteArrayOutputStream();
        int match = 2; // a leading CRLF ends an empty header block
        int b;
        while ((b = in.read()) >= 0) {
            block.write(b);
            if (block.size() > limit) {
                throw new TooLargeException(limit);
            }
            match = b == (match % 2 == 0 ? '\r' : '\n') ? match + 1 : (b == '\r' ? 1 : 0);
            if (match == 4) {
                break;
            }
        }
        InternetHeaders headers;
        try {
            headers = new InternetHeaders(new ByteArrayInputStream(block.toByteArray()), true);
        } catch (MessagingException e) {
            throw new IOException("unreadable header block: " + e.getMessage(), e);
        }
        return new HeaderRecipients(addresses(headers, "To"), addresses(headers, "Cc"), addresses(headers, "Bcc"),
                signed(headers.getHeader("Content-Type", null)));
    }

    private static List<String> addresses(InternetHeaders headers, String name) {
        List<String> out = new ArrayList<>();
        String[] values = headers.getHeader(name);
        if (values == null) {
            return out;
        }
        for (String value : values) {
            try {
                for (InternetAddress a : InternetAddress.parseHeader(value, false)) {
                    if (a.isGroup()) {
                        InternetAddress[] members = a.getGroup(false);
                        if (members != null) {
                            for (InternetAddress m : members) {
                                add(out, m.getAddress());
                            }
                        }
                    } else {
                        add(out, a.getAddress());
                    }
                }
            } catch (AddressException e) {
                // Graph would refuse such a field itself; the envelope still decides who gets the message
            }
        }
        return out;
    }

    private static void add(List<String> out, String address) {
        if (address != null && address.indexOf('@') > 0) {
            out.add(address);
        }
    }

    private static boolean signed(String contentType) {
        if (contentType == null) {
            return false;
        }
        try {
            return SIGNED_TYPES.contains(new ContentType(contentType).getBaseType().toLowerCase(Locale.ROOT));
        } catch (jakarta.mail.internet.ParseException e) {
            return false;
        }
    }

    /**
     * An address as SMTP compares them: the domain without regard to case, the local part exactly (RFC 5321 2.4).
     */
    static String key(String address) {
        int at = address.lastIndexOf('@');
        return at < 0 ? address : address.substring(0, at) + "@" + address.substring(at + 1).toLowerCase(Locale.ROOT);
    }
}
