package io.mailproxy.smtp.graph;

import jakarta.activation.DataHandler;
import jakarta.activation.FileDataSource;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Properties;
import java.util.Random;

/** Builds MIME messages with Jakarta Mail (streamed to files) and hashes contents, for LargeMessage's tests. */
final class LargeMessageFixtures {

    static final Session SESSION = Session.getInstance(new Properties());

    private LargeMessageFixtures() { }

    /** A file of {@code size} seeded random bytes; returns its SHA-256 in hex. */
    static String randomFile(Path file, long size, long seed) throws IOException {
        Random random = new Random(seed);
        MessageDigest sha = sha256();
        byte[] buffer = new byte[64 * 1024];
        try (OutputStream out = new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(file)), sha)) {
            for (long left = size; left > 0; ) {
                random.nextBytes(buffer);
                int n = (int) Math.min(buffer.length, left);
                out.write(buffer, 0, n);
                left -= n;
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    static String sha256(InputStream in) throws IOException {
        MessageDigest sha = sha256();
        byte[] buffer = new byte[64 * 1024];
        try (in) {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                sha.update(buffer, 0, n);
            }
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** A message with the usual headers a client's reply carries, including a custom one and folded ones. */
    static MimeMessage message(String subject) throws Exception {
        MimeMessage m = new MimeMessage(SESSION) {
            @Override
            protected void updateMessageID() throws jakarta.mail.MessagingException {
                setHeader("Message-ID", "<large-1@legacy.example>");
            }
        };
        m.setFrom(new InternetAddress("app@legacy.example", "Légacy App", "UTF-8"));
        m.setRecipients(Message.RecipientType.TO, "a@contoso.com, b@contoso.com");
        m.setSubject(subject, "UTF-8");
        m.setHeader("Date", "Wed, 25 Nov 2026 10:00:00 +0100");
        m.setHeader("In-Reply-To", "<parent@contoso.com>");
        m.setHeader("References", "<root@contoso.com>\r\n\t<parent@contoso.com>");
        m.setHeader("X-Legacy-Job", "nightly-42");
        return m;
    }

    static MimeBodyPart text(String text, String subtype) throws Exception {
        MimeBodyPart p = new MimeBodyPart();
        p.setText(text, "UTF-8", subtype);
        return p;
    }

    static MimeBodyPart file(Path file, String contentType, String disposition) throws Exception {
        MimeBodyPart p = new MimeBodyPart();
        p.setDataHandler(new DataHandler(new FileDataSource(file.toFile()) {
            @Override
            public String getContentType() {
                return contentType;
            }
        }));
        p.setHeader("Content-Transfer-Encoding", "base64");
        p.setHeader("Content-Disposition", disposition);
        return p;
    }

    static MimeMultipart multipart(String subtype, MimeBodyPart... parts) throws Exception {
        MimeMultipart mp = new MimeMultipart(subtype);
        for (MimeBodyPart p : parts) {
            mp.addBodyPart(p);
        }
        return mp;
    }

    static MimeBodyPart wrap(MimeMultipart mp) throws Exception {
        MimeBodyPart p = new MimeBodyPart();
        p.setContent(mp);
        return p;
    }

    /** Writes {@code m} to {@code file} (streamed by Jakarta Mail: the attachments are encoded as they are read). */
    static Path write(MimeMessage m, Path file) throws Exception {
        m.saveChanges();
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file))) {
            m.writeTo(out);
        }
        return file;
    }

    /** The header block of a message file: its bytes up to and including the first empty line. */
    static byte[] headerBlock(Path file) throws IOException {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(256 * 1024);
        }
        String s = new String(head, StandardCharsets.ISO_8859_1);
        int crlf = s.indexOf("\r\n\r\n");
        int lf = s.indexOf("\n\n");
        int end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf + 2;
        return Arrays.copyOf(head, end);
    }
}
