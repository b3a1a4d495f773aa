package io.mailproxy.smtp.graph;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.smtp.graph.GraphSubmission.Mode;
import io.mailproxy.smtp.graph.GraphSubmission.Result;
import io.mailproxy.smtp.graph.LargeMessage.Unsplittable.Reason;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LargeMessage as the submission's splitter: what it cannot split is refused for good, with the reply that says why. */
class GraphSplitterTest {

    @TempDir
    Path dir;
    final RecordingGraph graph = new RecordingGraph();

    private Result submit(String message) throws Exception {
        Path f = Files.createTempFile(dir, "m", ".msg");
        Files.writeString(f, message, StandardCharsets.ISO_8859_1);
        Path work = dir.resolve("graph-tmp"); // not there yet: the queue's first large message creates it
        GraphSubmission s = new GraphSubmission(() -> graph, ForkJoinPool.commonPool(), GraphSplitter.LARGE_MESSAGE,
                work, 4096);
        return s.submit(GraphSubmissionTest.ACCOUNT, MessageFile.of(f), List.of("boss@contoso.com"),
                GraphSubmission.Drafts.none(), Mode.QUEUE, "test").get(10, TimeUnit.SECONDS);
    }

    private static final String HEAD = "From: app@legacy.example\r\nTo: boss@contoso.com\r\nSubject: big\r\n"
            + "MIME-Version: 1.0\r\n";

    @Test
    void everyReasonIsAPermanent5xx() {
        assertThat(GraphSplitter.reply(Reason.SIGNED_OR_ENCRYPTED).oneLine())
                .startsWith("552 5.3.4 Signed or encrypted message too big for one Microsoft Graph");
        assertThat(GraphSplitter.reply(Reason.TOO_BIG_WITHOUT_ATTACHMENTS).oneLine())
                .startsWith("552 5.3.4").contains("even without its attachments");
        assertThat(GraphSplitter.reply(Reason.ATTACHMENT_TOO_BIG).oneLine()).startsWith("552 5.3.4").contains("150 MB");
        assertThat(GraphSplitter.reply(Reason.MALFORMED).oneLine()).startsWith("554 5.6.0");
    }

    @Test
    void aHugeBodyWithoutAttachmentsIsRefusedWithoutAnyGraphCall() throws Exception {
        graph.maxRequest = 10_000;
        Result r = submit(HEAD + "Content-Type: text/plain\r\n\r\n" + "line of text\r\n".repeat(2_000));
        assertThat(graph.calls).isEmpty();
        assertThat(r.failure().get().effect()).isEqualTo(GraphReplies.Effect.PERMANENT);
        assertThat(r.failure().get().reply().oneLine()).contains("even without its attachments");
        assertThat(r.failed()).containsKey("boss@contoso.com");
        try (var left = Files.list(dir.resolve("graph-tmp"))) {
            assertThat(left).isEmpty();
        }
    }

    @Test
    void aLargeAttachmentIsTakenOutAndUploaded() throws Exception {
        graph.maxRequest = 10_000;
        byte[] data = new byte[60_000];
        new java.util.Random(7).nextBytes(data);
        String b64 = Base64.getMimeEncoder(76, "\r\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(data);
        Result r = submit(HEAD + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
                + "--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
                + "--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;"
                + " filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64 + "\r\n--b1--\r\n");
        assertThat(r.failure()).isEmpty();
        assertThat(graph.calls).containsExactly("createMimeDraft", "addAttachment data.bin", "setRecipients",
                "sendDraft");
        assertThat(graph.mime.get(0)).contains("see attached").doesNotContain(b64.substring(0, 76));
        try (var left = Files.list(dir.resolve("graph-tmp"))) {
            assertThat(left).isEmpty();
        }
    }
}
