package io.mailproxy.testkit.graph;

import jakarta.mail.MessagingException;
import jakarta.mail.internet.AddressException;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.InternetHeaders;
import jakarta.mail.internet.MimeUtility;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UnsupportedEncodingException;
import java.util.ArrayList;
import java.util.List;

/**
 * The header fields Graph reads from a MIME message to fill a message's properties: To, Cc and Bcc become the
 * recipient table (MGDC concepts/outlook-things-to-know-about-send-mail.md, step 1; concepts/outlook-send-mime-message.md
 * lists "sender/recipient information (CC and BCC)"), Subject, From, Message-ID. Parsed with Angus Mail: groups
 * ({@code Team: a@x, b@y;}) expand to their members, an empty group ({@code Undisclosed recipients:;}) to nothing,
 * encoded words in display names are decoded.
 */
record MimeHeaders(String subject, EmailAddress from, String messageId, List<EmailAddress> to,
                   List<EmailAddress> cc, List<EmailAddress> bcc) {

    static MimeHeaders parse(byte[] mime) {
        try (InputStream in = new ByteArrayInputStream(mime)) {
            return parse(in);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads the header section only (up to the first empty line). */
    static MimeHeaders parse(InputStream in) {
        try {
            InternetHeaders h = new InternetHeaders(in);
            String subject = decode(h.getHeader("Subject", null));
            List<EmailAddress> from = addresses(h.getHeader("From", ","));
            String id = h.getHeader("Message-ID", null);
            return new MimeHeaders(subject == null ? "" : subject, from.isEmpty() ? null : from.get(0),
                    id == null ? null : MimeUtility.unfold(id).trim(),
                    addresses(h.getHeader("To", ",")), addresses(h.getHeader("Cc", ",")),
                    addresses(h.getHeader("Bcc", ",")));
        } catch (MessagingException e) {
            throw new IllegalArgumentException("unparsable MIME header: " + e.getMessage(), e);
        }
    }

    private static String decode(String value) {
        if (value == null) {
            return null;
        }
        try {
            return MimeUtility.decodeText(MimeUtility.unfold(value)).trim();
        } catch (UnsupportedEncodingException e) {
            return MimeUtility.unfold(value).trim();
        }
    }

    static List<EmailAddress> addresses(String header) {
        List<EmailAddress> out = new ArrayList<>();
        if (header == null || header.isBlank()) {
            return out;
        }
        try {
            for (InternetAddress a : InternetAddress.parseHeader(MimeUtility.unfold(header), false)) {
                if (a.isGroup()) {
                    for (InternetAddress member : a.getGroup(false)) {
                        out.add(of(member));
                    }
                } else {
                    out.add(of(a));
                }
            }
        } catch (AddressException e) {
            throw new IllegalArgumentException("unparsable address header: " + e.getMessage(), e);
        }
        return out;
    }

    private static EmailAddress of(InternetAddress a) {
        return new EmailAddress(a.getPersonal() == null ? "" : a.getPersonal(), a.getAddress());
    }
}
