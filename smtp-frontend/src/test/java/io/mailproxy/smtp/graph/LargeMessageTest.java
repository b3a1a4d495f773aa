package io.mailproxy.smtp.graph;

import static io.mailproxy.smtp.graph.LargeMessageFixtures.SESSION;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.file;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.headerBlock;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.message;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.multipart;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.randomFile;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.sha256;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.text;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.wrap;
import static io.mailproxy.smtp.graph.LargeMessageFixtures.write;
import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.graph.AttachmentUpload;
import jakarta.mail.BodyPart;
import jakarta.mail.Multipart;
import jakarta.mail.Part;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import jakarta.mail.util.SharedFileInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The split of a real, richly nested message built by Jakarta Mail; 2.9 MiB per request as Graph's ~3 MB of MIME. */
class LargeMessageTest {

    static final long MAX = 2_900L * 1024;

    @TempDir
    static Path dir;
    static Path original;
    static Map<String, String> hashes = new java.util.HashMap<>();

    /*
     * mixed
     *   related
     *     alternative
     *       text/plain
     *       mixed            (a multipart/mixed inside the alternative)
     *         text/html      <img src="cid:logo@legacy.example">
     *         5 MB "Bericht Größe.bin"   attachment, RFC 2231 filename*
     *     image/png 2 MB     inline, Content-ID <logo@legacy.example>
     *   1 MB "Übersicht März.pdf" attachment, RFC 2231 continuations (stays: small)
     *   20 MB "日本語の資料.zip" attachment, encoded-word filename
     *   message/rfc822 attachment "forwarded.eml"
     */
    @BeforeAll
    static void buildTheMessage() throws Exception {
        hashes.put("one", randomFile(dir.resolve("one"), 1 << 20, 1));
        hashes.put("five", randomFile(dir.resolve("five"), 5 << 20, 5));
        hashes.put("twenty", randomFile(dir.resolve("twenty"), 20 << 20, 20));
        hashes.put("image", randomFile(dir.resolve("image"), 2 << 20, 2));

        MimeMessage forwarded = message("the forwarded one");
        forwarded.setText("forwarded body\r\n", "UTF-8");
        Path fwd = write(forwarded, dir.resolve("fwd.eml"));
        hashes.put("fwd", sha256(Files.newInputStream(fwd)));
        MimeBodyPart rfc822 = new MimeBodyPart();
        rfc822.setContent(new MimeMessage(SESSION, Files.newInputStream(fwd)), "message/rfc822");
        rfc822.setHeader("Content-Disposition", "attachment; filename=\"forwarded.eml\"");

        MimeMessage m = message("Größenbericht — groß");
        m.setContent(multipart("mixed",
                wrap(multipart("related",
                        wrap(multipart("alternative",
                                text("plain body ünïcode\r\n", "plain"),
                                wrap(multipart("mixed",
                                        text("<p>html body <img src=\"cid:logo@legacy.example\"></p>", "html"),
                                        file(dir.resolve("five"), "application/octet-stream",
                                                "attachment; filename*=UTF-8''Bericht%20Gr%C3%B6%C3%9Fe.bin"))))),
                        inline(file(dir.resolve("image"), "image/png", "inline")))),
                file(dir.resolve("one"), "application/pdf",
                        "attachment; filename*0*=UTF-8''%C3%9Cbersicht; filename*1*=%20M%C3%A4rz.pdf"),
                file(dir.resolve("twenty"), "application/zip",
                        "attachment; filename=\"=?UTF-8?B?5pel5pys6Kqe44Gu6LOH5paZLnppcA==?=\""),
                rfc822));
        original = write(m, dir.resolve("original.eml"));
    }

    private static MimeBodyPart inline(MimeBodyPart p) throws Exception {
        p.setHeader("Content-ID", "<logo@legacy.example>");
        return p;
    }

    @Test
    void takesOutTheLargestPartsUntilTheRestFitsAndDecodesThem() throws Exception {
        try (LargeMessage split = LargeMessage.split(original, MAX, dir)) {
            Map<String, AttachmentUpload> byName = split.attachments().stream()
                    .collect(Collectors.toMap(AttachmentUpload::name, Function.identity()));
            assertThat(split.attachments()).extracting(AttachmentUpload::name)
                    .containsExactly("日本語の資料.zip", "Bericht Größe.bin", "attachment-3");
            AttachmentUpload zip = byName.get("日本語の資料.zip");
            assertThat(zip.contentType()).isEqualTo("application/zip");
            assertThat(zip.inline()).isFalse();
            assertThat(zip.contentId()).isEmpty();
            assertThat(zip.content().size()).isEqualTo(20 << 20);
            assertThat(sha256(zip.content().open())).isEqualTo(hashes.get("twenty"));
            assertThat(sha256(zip.content().open())).as("opened again, as on a retry").isEqualTo(hashes.get("twenty"));

            AttachmentUpload five = byName.get("Bericht Größe.bin");
            assertThat(five.content().size()).isEqualTo(5 << 20);
            assertThat(sha256(five.content().open())).isEqualTo(hashes.get("five"));

            AttachmentUpload image = byName.get("attachment-3");
            assertThat(image.contentType()).isEqualTo("image/png");
            assertThat(image.inline()).isTrue();
            assertThat(image.contentId()).contains("logo@legacy.example");
            assertThat(image.content().size()).isEqualTo(2 << 20);
            assertThat(sha256(image.content().open())).isEqualTo(hashes.get("image"));
        }
    }

    @Test
    void theReducedMessageKeepsTheHeadersTheBodyAndTheSmallPartsByteForByte() throws Exception {
        try (LargeMessage split = LargeMessage.split(original, MAX, dir)) {
            Path reduced = dir.resolve("reduced.eml");
            try (InputStream in = split.reduced().open()) {
                Files.copy(in, reduced);
            }
            assertThat(split.reduced().size()).isEqualTo(Files.size(reduced)).isLessThanOrEqualTo(MAX);
            assertThat(headerBlock(reduced)).isEqualTo(headerBlock(original));

            MimeMessage parsed = new MimeMessage(SESSION, new SharedFileInputStream(reduced.toFile()));
            List<String> leaves = new ArrayList<>();
            leaves(parsed, "", leaves);
            assertThat(leaves).containsExactly(
                    "multipart/mixed/multipart/related/multipart/alternative/text/plain",
                    "multipart/mixed/multipart/related/multipart/alternative/multipart/mixed/text/html",
                    "multipart/mixed/application/pdf",
                    "multipart/mixed/message/rfc822");
            MimeMessage before = new MimeMessage(SESSION, new SharedFileInputStream(original.toFile()));
            // reduced part -> the same part in the original (the 20 MB zip at top-level index 2 is gone)
            int[][][] same = {{{0, 0, 0}, {0, 0, 0}}, {{0, 0, 1, 0}, {0, 0, 1, 0}}, {{1}, {1}}, {{2}, {3}}};
            for (int[][] pair : same) {
                assertThat(rawBytes(part(parsed, pair[0]))).as(Arrays.toString(pair[0]))
                        .isEqualTo(rawBytes(part(before, pair[1])));
            }
            assertThat(sha256(((MimeBodyPart) part(parsed, 1)).getInputStream())).isEqualTo(hashes.get("one"));
            assertThat(((MimeBodyPart) part(parsed, 1)).getFileName()).isEqualTo("Übersicht März.pdf");
            assertThat(sha256(((MimeBodyPart) part(parsed, 2)).getRawInputStream())).isEqualTo(hashes.get("fwd"));
        }
    }

    private static Part part(Part root, int... path) throws Exception {
        Part p = root;
        for (int i : path) {
            p = ((Multipart) p.getContent()).getBodyPart(i);
        }
        return p;
    }

    /** The part's headers and raw content, hashed (a mismatch would print megabytes otherwise). */
    private static String rawBytes(Part p) throws Exception {
        java.io.ByteArrayOutputStream headers = new java.io.ByteArrayOutputStream();
        for (var lines = ((MimeBodyPart) p).getAllHeaderLines(); lines.hasMoreElements(); ) {
            headers.write((lines.nextElement() + "\r\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        return headers + sha256(((MimeBodyPart) p).getRawInputStream());
    }

    private static void leaves(Part p, String prefix, List<String> into) throws Exception {
        String type = p.getContentType().split(";")[0].trim().toLowerCase();
        if (p.isMimeType("multipart/*")) {
            MimeMultipart mp = (MimeMultipart) p.getContent();
            assertThat(mp.isComplete()).as("closing boundary of " + prefix + type).isTrue();
            for (int i = 0; i < mp.getCount(); i++) {
                BodyPart child = mp.getBodyPart(i);
                leaves(child, prefix + type + "/", into);
            }
        } else {
            into.add(prefix + type);
        }
    }

    @Test
    void closeDeletesTheTemporaryFileAndTheSplitOutlivesTheOriginalsUnlink() throws Exception {
        Path copy = Files.copy(original, dir.resolve("spool-copy.eml"));
        Path work = Files.createDirectories(dir.resolve("work"));
        LargeMessage split = LargeMessage.split(copy, MAX, work);
        try (var files = Files.list(work)) {
            assertThat(files.count()).isEqualTo(1);
        }
        Files.delete(copy);
        assertThat(sha256(split.attachments().get(0).content().open())).isEqualTo(hashes.get("twenty"));
        split.close();
        try (var files = Files.list(work)) {
            assertThat(files.count()).isZero();
        }
    }

    @Test
    void aMessageThatFitsIsLeftWhole() throws Exception {
        try (LargeMessage split = LargeMessage.split(original, Files.size(original), dir)) {
            assertThat(split.attachments()).isEmpty();
            assertThat(split.reduced().size()).isEqualTo(Files.size(original));
            assertThat(sha256(split.reduced().open())).isEqualTo(sha256(Files.newInputStream(original)));
        }
    }

    @Test
    void aLimitBetweenTakesOutOnlyWhatIsNeeded() throws Exception {
        try (LargeMessage split = LargeMessage.split(original, 20L << 20, dir)) {
            assertThat(split.attachments()).extracting(AttachmentUpload::name).containsExactly("日本語の資料.zip");
            assertThat(split.reduced().size()).isLessThanOrEqualTo(20L << 20);
            assertThat(split.attachments().get(0).contentId()).isEqualTo(Optional.empty());
        }
    }
}
