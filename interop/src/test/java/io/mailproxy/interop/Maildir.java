package io.mailproxy.interop;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A Maildir folder (new/, cur/, tmp/) as mbsync and offlineimap leave it: one file per message, the flags after
 * {@code :2,} in the file name (D draft, F flagged, R replied, S seen, T trashed). Also the line-end conversions
 * these clients make, since a Maildir holds LF-terminated lines and IMAP CRLF-terminated ones.
 */
final class Maildir {

    /** One message file: where it is, its Maildir flags, its bytes. */
    record Msg(Path file, String flags, byte[] bytes) {
        String subject() {
            return Maildir.subject(bytes);
        }
    }

    private static final Pattern SUBJECT = Pattern.compile("(?m)^Subject: ([^\r\n]*)\r?$");

    private Maildir() {
    }

    static Path create(Path dir) throws IOException {
        for (String sub : List.of("new", "cur", "tmp")) {
            Files.createDirectories(dir.resolve(sub));
        }
        return dir;
    }

    /** Every message in new/ and cur/, ordered by Subject. */
    static List<Msg> read(Path dir) throws IOException {
        List<Msg> out = new ArrayList<>();
        for (String sub : List.of("new", "cur")) {
            Path d = dir.resolve(sub);
            if (!Files.isDirectory(d)) {
                continue;
            }
            try (Stream<Path> files = Files.list(d)) {
                for (Path f : files.sorted().toList()) {
                    String name = f.getFileName().toString();
                    int info = name.indexOf(":2,");
                    out.add(new Msg(f, info < 0 ? "" : name.substring(info + 3), Files.readAllBytes(f)));
                }
            }
        }
        out.sort((a, b) -> a.subject().compareTo(b.subject()));
        return out;
    }

    /** The message whose Subject is {@code subject}. */
    static Msg bySubject(List<Msg> messages, String subject) {
        return messages.stream().filter(m -> m.subject().equals(subject)).findFirst()
                .orElseThrow(() -> new AssertionError("no message with Subject " + subject + " among "
                        + messages.stream().map(Msg::subject).toList()));
    }

    /** Sets the message's Maildir flags (renaming it into cur/), as a mail user agent does. */
    static Path setFlags(Msg m, String flags) throws IOException {
        String name = m.file().getFileName().toString();
        int info = name.indexOf(":2,");
        String base = info < 0 ? name : name.substring(0, info);
        Path target = m.file().getParent().getParent().resolve("cur").resolve(base + ":2," + flags);
        return Files.move(m.file(), target);
    }

    /** Delivers {@code message} (LF line ends) into new/, as a local mail program does. */
    static Path deliver(Path dir, String name, byte[] message) throws IOException {
        Path tmp = Files.write(dir.resolve("tmp").resolve(name), message);
        return Files.move(tmp, dir.resolve("new").resolve(name));
    }

    static String subject(byte[] message) {
        int end = headerEnd(message);
        Matcher m = SUBJECT.matcher(new String(message, 0, end, StandardCharsets.UTF_8));
        return m.find() ? m.group(1) : "";
    }

    /** The offset just past the header's last line (where the empty line starts). */
    static int headerEnd(byte[] message) {
        for (int i = 0; i + 1 < message.length; i++) {
            if (message[i] == '\n' && (message[i + 1] == '\n'
                    || message[i + 1] == '\r' && i + 2 < message.length && message[i + 2] == '\n')) {
                return i + 1;
            }
        }
        return message.length;
    }

    /** CRLF to LF, what a client storing a message in a Maildir does. */
    static byte[] lf(byte[] crlf) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(crlf.length);
        for (int i = 0; i < crlf.length; i++) {
            if (crlf[i] == '\r' && i + 1 < crlf.length && crlf[i + 1] == '\n') {
                continue;
            }
            b.write(crlf[i]);
        }
        return b.toByteArray();
    }

    /** LF to CRLF, what a client uploading a Maildir message over IMAP does. */
    static byte[] crlf(byte[] lf) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(lf.length + lf.length / 40);
        for (byte c : lf) {
            if (c == '\n') {
                b.write('\r');
            }
            b.write(c);
        }
        return b.toByteArray();
    }

    /**
     * {@code message} with the header line {@code header} (its name, a colon, a value matching {@code valueRegex})
     * removed, asserting that there was exactly one such line at the end of the header: how mbsync marks a message
     * it propagates (X-TUID) so it can find it again. The rest must be left exactly as it was.
     */
    static byte[] withoutLastHeader(byte[] message, String header, String valueRegex) {
        int end = headerEnd(message);
        String head = new String(message, 0, end, StandardCharsets.ISO_8859_1);
        Matcher m = Pattern.compile("(?:^|\n)(" + Pattern.quote(header) + ": " + valueRegex + "\r?\n)$").matcher(head);
        if (!m.find()) {
            throw new AssertionError("no " + header + " header matching " + valueRegex + " as the last header line of:\n"
                    + head);
        }
        int from = m.start(1);
        byte[] out = new byte[message.length - (end - from)];
        System.arraycopy(message, 0, out, 0, from);
        System.arraycopy(message, end, out, from, message.length - end);
        if (Pattern.compile("(?m)^" + Pattern.quote(header) + ":").matcher(new String(out, 0, from,
                StandardCharsets.ISO_8859_1)).find()) {
            throw new AssertionError("more than one " + header + " header in:\n" + head);
        }
        return out;
    }
}
