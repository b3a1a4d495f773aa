package io.mailproxy.interop;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.UUID;

/**
 * Test messages with CRLF line ends (what IMAP stores and returns), lines starting with a dot (dot-stuffing in POP3
 * and SMTP), and 8-bit UTF-8 text. Content is pseudo-random but reproducible per seed.
 */
final class Messages {

    private Messages() {
    }

    /** A message of about {@code size} bytes (at least the headers), ending in CRLF. */
    static byte[] message(String from, String to, String subject, int size, long seed) {
        Random r = new Random(seed);
        ByteArrayOutputStream b = new ByteArrayOutputStream(size + 1024);
        write(b, "From: <" + from + ">\r\n");
        write(b, "To: <" + to + ">\r\n");
        write(b, "Subject: " + subject + "\r\n");
        write(b, "Date: Wed, 25 Nov 2026 21:00:00 +0000\r\n");
        write(b, "Message-ID: <" + UUID.randomUUID() + "@interop.test>\r\n");
        write(b, "MIME-Version: 1.0\r\n");
        write(b, "Content-Type: text/plain; charset=utf-8\r\n");
        write(b, "Content-Transfer-Encoding: 8bit\r\n");
        write(b, "\r\n");
        write(b, ".a line starting with a dot\r\n");
        write(b, "..two dots\r\n");
        write(b, "Grüße aus Köln, naïve café, 日本語, ✓ — 8-bit UTF-8\r\n");
        write(b, ". \r\n");
        String alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-";
        int line = 0;
        while (b.size() < size) {
            StringBuilder l = new StringBuilder();
            if (line % 17 == 0) {
                l.append('.');
            }
            if (line % 29 == 0) {
                l.append("é ü ß ");
            }
            int n = 20 + r.nextInt(56);
            for (int i = 0; i < n; i++) {
                l.append(alphabet.charAt(r.nextInt(alphabet.length())));
            }
            write(b, l.append("\r\n").toString());
            line++;
        }
        write(b, "end.\r\n");
        return b.toByteArray();
    }

    /** A short message for send tests. */
    static byte[] small(String from, String to, String subject) {
        return message(from, to, subject, 1024, subject.hashCode());
    }

    /** True when {@code whole} ends with {@code tail} (what the sink got after Dovecot's Received: header). */
    static boolean endsWith(byte[] whole, byte[] tail) {
        return whole.length >= tail.length
                && Arrays.equals(whole, whole.length - tail.length, whole.length, tail, 0, tail.length);
    }

    /** The bytes Dovecot's submission service prepended: one Received: header, nothing else. */
    static String prefix(byte[] whole, byte[] tail) {
        return new String(whole, 0, whole.length - tail.length, StandardCharsets.UTF_8);
    }

    /** Dot-stuffs a CRLF message for SMTP DATA / POP3 RETR (RFC 5321 4.5.2). */
    static byte[] dotStuff(byte[] message) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(message.length + 64);
        boolean lineStart = true;
        for (byte c : message) {
            if (lineStart && c == '.') {
                b.write('.');
            }
            b.write(c);
            lineStart = c == '\n';
        }
        return b.toByteArray();
    }

    private static void write(ByteArrayOutputStream b, String s) {
        b.writeBytes(s.getBytes(StandardCharsets.UTF_8));
    }
}
