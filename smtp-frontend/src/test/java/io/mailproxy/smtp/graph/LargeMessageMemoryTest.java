package io.mailproxy.smtp.graph;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.graph.AttachmentUpload;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bounded memory: a message with a 149 MiB attachment (about 200 MB of base64) split and read back in a JVM of its
 * own with a 64 MiB heap, where neither the attachment nor the message could be held in memory.
 */
class LargeMessageMemoryTest {

    @TempDir
    Path dir;

    @Test
    void aNearlyMaximalAttachmentSplitsInA64MiBHeap() throws Exception {
        Path message = dir.resolve("big.eml");
        String sha = writeMessage(message, 149L * 1024 * 1024);
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-cp", System.getProperty("java.class.path"), LargeMessageMemoryTest.class.getName(),
                message.toString(), dir.toString()));
        Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output;
        try (var in = child.getInputStream()) {
            output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        assertThat(child.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(output).as(output).contains("attachment big.bin " + (149L * 1024 * 1024) + " " + sha);
        assertThat(child.exitValue()).as(output).isZero();
    }

    /** The child: splits {@code args[0]} with the real limits and prints each attachment's name, size and hash. */
    public static void main(String[] args) throws Exception {
        try (LargeMessage split = LargeMessage.split(Path.of(args[0]), 3L * 1024 * 1024, Path.of(args[1]))) {
            for (AttachmentUpload a : split.attachments()) {
                System.out.println("attachment " + a.name() + " " + a.content().size() + " "
                        + LargeMessageFixtures.sha256(a.content().open()));
            }
            System.out.println("reduced " + split.reduced().size());
        }
    }

    /** A mixed message with a small text body and one base64 attachment of {@code size} seeded random bytes. */
    private static String writeMessage(Path file, long size) throws IOException {
        MessageDigest sha = LargeMessageFixtures.sha256();
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
            out.write(("From: app@legacy.example\r\nTo: a@contoso.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
                    + "Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n--=_b\r\nContent-Type: text/plain\r\n\r\n"
                    + "see the attachment\r\n--=_b\r\nContent-Type: application/octet-stream\r\n"
                    + "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=big.bin\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            Random random = new Random(149);
            byte[] buffer = new byte[57 * 1024]; // a multiple of 57: whole 76-character lines per chunk
            try (OutputStream encoder = new DigestOutputStream(
                    Base64.getMimeEncoder(76, new byte[] {'\r', '\n'}).wrap(new NoClose(out)), sha)) {
                for (long left = size; left > 0; ) {
                    random.nextBytes(buffer);
                    int n = (int) Math.min(buffer.length, left);
                    encoder.write(buffer, 0, n);
                    left -= n;
                }
            }
            out.write("\r\n--=_b--\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    private static final class NoClose extends java.io.FilterOutputStream {
        NoClose(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
