package io.mailproxy.smtp.graph;

import static io.mailproxy.smtp.graph.LargeMessageFixtures.SESSION;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.sha256;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import io.mailproxy.smtp.graph.LargeMessage.Unsplittable;
import io.mailproxy.smtp.graph.LargeMessage.Unsplittable.Reason;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hand-written MIME: signed and encrypted, huge bodies, LF line ends, 8bit, broken structure, truncations. */
class LargeMessageOddInputTest {

    static final long MAX = 64 * 1024;

    @TempDir
    Path dir;

    private static final String HEAD = "From: app@legacy.example\nTo: a@contoso.com\nSubject: odd\n"
            + "Message-ID: <odd@legacy.example>\nX-Custom:  kept   as is \nMIME-Version: 1.0\n";

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static String base64(byte[] b, String eol) {
        return Base64.getMimeEncoder(76, eol.getBytes(StandardCharsets.US_ASCII)).encodeToString(b);
    }

    /** A mixed message: a UTF-8 8bit text body and one base64 attachment of {@code attachment} bytes. */
    private static String mixed(String eol, byte[] attachment, boolean closed) {
        String s = HEAD + "Content-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n"
                + "--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße, 8bit body\n"
                + "--b1  \nContent-Type: application/pdf; name=\"r.pdf\"\nContent-Transfer-Encoding: base64\n"
                + "Content-Disposition: attachment; filename=\"r.pdf\"\n\n" + base64(attachment, "\n") + "\n"
                + (closed ? "--b1--\nepilogue\n" : "");
        return s.replace("\n", eol);
    }

    private Path file(String name, String content) throws IOException {
        return Files.write(dir.resolve(name), content.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] bytes(InputStream in) throws IOException {
        try (in) {
            return in.readAllBytes();
        }
    }

    private void assertSplitsCorrectly(String eol) throws Exception {
        byte[] attachment = random(200_000, 7);
        Path message = file("m.eml", mixed(eol, attachment, true));
        try (LargeMessage split = LargeMessage.split(message, MAX, dir)) {
            assertThat(split.attachments()).singleElement().satisfies(a -> {
                assertThat(a.name()).isEqualTo("r.pdf");
                assertThat(a.contentType()).isEqualTo("application/pdf");
                assertThat(a.inline()).isFalse();
                assertThat(a.content().size()).isEqualTo(attachment.length);
                assertThat(bytes(a.content().open())).isEqualTo(attachment);
            });
            String reduced = new String(bytes(split.reduced().open()), StandardCharsets.UTF_8);
            assertThat(reduced).isEqualTo((HEAD + "Content-Type: multipart/mixed; boundary=\"b1\"\n\npreamble\n"
                    + "--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
                    + "Grüße, 8bit body\n--b1--\nepilogue\n").replace("\n", eol));
            assertThat(split.reduced().size()).isEqualTo(reduced.getBytes(StandardCharsets.UTF_8).length);
        }
    }

    @Test
    void crlfMessagesSplitWithTheir8bitBodyKept() throws Exception {
        assertSplitsCorrectly("\r\n");
    }

    @Test
    void lfMessagesSplitToo() throws Exception {
        assertSplitsCorrectly("\n");
    }

    @Test
    void signedAndEncryptedMessagesAreNotRebuilt() throws Exception {
        String big = base64(random(100_000, 1), "\r\n");
        for (String type : new String[] {"multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=s",
                "multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=s",
                "application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
                "application/x-pkcs7-mime; smime-type=signed-data"}) {
            Path message = file("s.eml", HEAD + "Content-Type: " + type + "\n\n--s\n\n" + big + "\n--s--\n");
            assertThatThrownBy(() -> LargeMessage.split(message, MAX, dir)).as(type)
                    .isInstanceOfSatisfying(Unsplittable.class, e -> assertThat(e.reason()).isEqualTo(Reason.SIGNED_OR_ENCRYPTED));
        }
    }

    @Test
    void aHugeBodyOrAHugeSinglePartIsTooBigEvenWithoutAttachments() throws Exception {
        String body = "x".repeat(70) + "\n";
        Path single = file("single.eml", HEAD + "Content-Type: text/plain\n\n" + body.repeat(2_000));
        assertThatThrownBy(() -> LargeMessage.split(single, MAX, dir))
                .isInstanceOfSatisfying(Unsplittable.class, e -> assertThat(e.reason()).isEqualTo(Reason.TOO_BIG_WITHOUT_ATTACHMENTS));
        Path hugeBody = file("body.eml", HEAD + "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                + "Content-Type: text/html\n\n" + body.repeat(2_000) + "--b\nContent-Type: image/png\n"
                + "Content-Transfer-Encoding: base64\n\n" + base64(random(50_000, 3), "\n") + "\n--b--\n");
        assertThatThrownBy(() -> LargeMessage.split(hugeBody, MAX, dir))
                .isInstanceOfSatisfying(Unsplittable.class, e -> assertThat(e.reason()).isEqualTo(Reason.TOO_BIG_WITHOUT_ATTACHMENTS));
        try (var files = Files.list(dir)) {
            assertThat(files.filter(f -> f.getFileName().toString().startsWith("graph-reduced-"))).isEmpty();
        }
    }

    @Test
    void anAttachmentOverTheUploadSessionLimitIsRefused() throws Exception {
        Path message = file("m.eml", mixed("\r\n", random(200_000, 7), true));
        assertThatThrownBy(() -> LargeMessageSplitter.split(message, MAX, dir, 199_999))
                .isInstanceOfSatisfying(Unsplittable.class, e -> {
                    assertThat(e.reason()).isEqualTo(Reason.ATTACHMENT_TOO_BIG);
                    assertThat(e).hasMessageContaining("r.pdf");
                });
        assertThat(LargeMessage.MAX_ATTACHMENT_BYTES).isEqualTo(150L * 1024 * 1024);
    }

    @Test
    void brokenStructureIsMalformed() throws Exception {
        byte[] attachment = random(200_000, 7);
        Path unclosed = file("unclosed.eml", mixed("\r\n", attachment, false));
        Path noBoundary = file("nob.eml", HEAD + "Content-Type: multipart/mixed\n\n" + base64(attachment, "\n"));
        Path noParts = file("noparts.eml", HEAD + "Content-Type: multipart/mixed; boundary=zz\n\n" + base64(attachment, "\n"));
        Path badBase64 = file("bad.eml", HEAD + "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\n"
                + "Content-Type: application/zip\nContent-Transfer-Encoding: base64\n\n" + base64(attachment, "\n")
                + "A\n--b--\n");
        for (Path p : new Path[] {unclosed, noBoundary, noParts, badBase64}) {
            assertThatThrownBy(() -> LargeMessage.split(p, MAX, dir)).as(p.getFileName().toString())
                    .isInstanceOfSatisfying(Unsplittable.class, e -> assertThat(e.reason()).isEqualTo(Reason.MALFORMED));
        }
    }

    @Test
    void aMultipartOfOnlyAttachmentsKeepsAnEmptyTextPart() throws Exception {
        byte[] a = random(100_000, 1);
        Path message = file("only.eml", HEAD + "Content-Type: multipart/mixed; boundary=b\n\n"
                + "--b\nContent-Type: application/zip\nContent-Transfer-Encoding: base64\n\n" + base64(a, "\n")
                + "\n--b\nContent-Type: multipart/mixed; boundary=c\n\n--c\nContent-Type: image/gif\n"
                + "Content-Transfer-Encoding: base64\nContent-ID: <g1>\n\n" + base64(a, "\n") + "\n--c--\n\n--b--\n");
        try (LargeMessage split = LargeMessage.split(message, 1_000, dir)) {
            assertThat(split.attachments()).hasSize(2);
            var gif = split.attachments().stream().filter(u -> u.contentType().equals("image/gif")).findFirst().orElseThrow();
            assertThat(gif.contentId()).contains("g1");
            assertThat(gif.inline()).as("a Content-ID without a disposition").isTrue();
            MimeMessage parsed = new MimeMessage(SESSION, split.reduced().open());
            MimeMultipart mp = (MimeMultipart) parsed.getContent();
            assertThat(mp.isComplete()).isTrue();
            assertThat(mp.getCount()).isEqualTo(1);
            assertThat(mp.getBodyPart(0).isMimeType("text/plain")).isTrue();
            assertThat(split.reduced().size()).isLessThanOrEqualTo(1_000);
        }
    }

    /** Every truncation of a good message: a correct split or an Unsplittable, never anything else. */
    @Test
    void truncationsGiveACleanAnswer() throws Exception {
        byte[] whole = mixed("\r\n", random(3_000, 9), true).getBytes(StandardCharsets.UTF_8);
        int splits = 0;
        for (int length = 0; length <= whole.length; length += 7) {
            Path p = Files.write(dir.resolve("t.eml"), java.util.Arrays.copyOf(whole, length));
            try (LargeMessage split = LargeMessage.split(p, 600, dir)) {
                splits++;
                assertThat(split.reduced().size()).isLessThanOrEqualTo(600);
                for (var a : split.attachments()) {
                    sha256(a.content().open());
                }
            } catch (Unsplittable expected) {
                assertThat(expected.getMessage()).isNotBlank();
            } catch (RuntimeException e) {
                fail("length " + length + ": " + e, e);
            }
        }
        assertThat(splits).as("the whole message, at least, splits").isPositive();
    }
}
