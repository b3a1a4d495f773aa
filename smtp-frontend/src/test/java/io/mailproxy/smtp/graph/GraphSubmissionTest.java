package io.mailproxy.smtp.graph;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.SecretRef;
import io.mailproxy.core.graph.AttachmentUpload;
import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.core.graph.MimeSource;
import io.mailproxy.core.graph.Recipients;
import io.mailproxy.smtp.graph.GraphReplies.Effect;
import io.mailproxy.smtp.graph.GraphSubmission.Mode;
import io.mailproxy.smtp.graph.GraphSubmission.Result;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The submission's choices against a recording Graph: which calls, with which recipients, and what comes of them. */
class GraphSubmissionTest {

    static final AccountConfig ACCOUNT = new AccountConfig("reports@contoso.com", "reports@contoso.com", "graph",
            new AuthConfig.Password(Optional.empty(), new SecretRef.Literal("x")), "reports@contoso.com", Map.of());

    @TempDir
    Path dir;
    final RecordingGraph graph = new RecordingGraph();
    GraphSubmission.Splitter splitter = GraphSubmission.NO_SPLIT;

    /** A state file's draft line, in memory. */
    static final class Remembered implements GraphSubmission.Drafts {
        volatile String id;

        @Override
        public Optional<String> pending() {
            return Optional.ofNullable(id);
        }

        @Override
        public void sending(String draftId) {
            id = draftId;
        }

        @Override
        public void cleared() {
            id = null;
        }
    }

    private Result submit(String headers, List<String> rcpts, GraphSubmission.Drafts drafts, Mode mode)
            throws Exception {
        Path f = Files.createTempFile(dir, "m", ".msg");
        Files.writeString(f, headers + "\r\nbody\r\n..stuffed\r\n", StandardCharsets.ISO_8859_1);
        GraphSubmission s = new GraphSubmission(() -> graph, ForkJoinPool.commonPool(), splitter, dir, 4096);
        return s.submit(ACCOUNT, MessageFile.of(f), rcpts, drafts, mode, "test").get(30, TimeUnit.SECONDS);
    }

    private static final String HEAD = "From: app@legacy.example\r\nTo: Boss <boss@contoso.com>\r\nCc: ann@Contoso.com\r\n";

    @Test
    void equalSetsAreSentAsTheyAreWithSendMailUnstuffed() throws Exception {
        Result r = submit(HEAD, List.of("boss@CONTOSO.com", "ann@contoso.com"), GraphSubmission.Drafts.none(),
                Mode.PASS_THROUGH);
        assertThat(r.failure()).isEmpty();
        assertThat(graph.calls).containsExactly("sendMime");
        assertThat(graph.mime.get(0)).startsWith(HEAD).endsWith("\r\nbody\r\n.stuffed\r\n");
    }

    @Test
    void anEnvelopeOnlyRecipientBecomesABccOfADraft() throws Exception {
        Remembered d = new Remembered();
        Result r = submit(HEAD + "Bcc: hidden@contoso.com, stranger@elsewhere.example\r\n",
                List.of("boss@contoso.com", "ann@contoso.com", "hidden@contoso.com", "extra@fabrikam.example"), d,
                Mode.QUEUE);
        assertThat(r.failure()).isEmpty();
        assertThat(r.delivered()).hasSize(4);
        assertThat(graph.calls).containsExactly("createMimeDraft", "setRecipients", "sendDraft");
        assertThat(graph.recipients.values()).containsExactly(new Recipients(List.of("boss@contoso.com"),
                List.of("ann@contoso.com"), List.of("hidden@contoso.com", "extra@fabrikam.example")));
        assertThat(d.id).isNull();
    }

    @Test
    void anAddressFieldThatCannotBeReadIsNeverSentAsItIs() throws Exception {
        // Graph (Exchange's lenient MIME parser) may find x@evil.example in this Bcc; we cannot tell, so the draft's
        // recipients are set to the envelope's instead of trusting the headers
        Result r = submit(HEAD + "Bcc: \"unterminated <x@evil.example>\r\n",
                List.of("boss@contoso.com", "ann@contoso.com"), GraphSubmission.Drafts.none(), Mode.PASS_THROUGH);
        assertThat(r.failure()).isEmpty();
        assertThat(graph.calls).containsExactly("createMimeDraft", "setRecipients", "sendDraft");
        assertThat(graph.recipients.values()).containsExactly(new Recipients(List.of("boss@contoso.com"),
                List.of("ann@contoso.com"), List.of()));
    }

    @Test
    void headerOnlyAddressesAreNotSentTo() throws Exception {
        Result r = submit(HEAD, List.of("ann@contoso.com"), GraphSubmission.Drafts.none(), Mode.PASS_THROUGH);
        assertThat(r.failure()).isEmpty();
        assertThat(graph.calls).containsExactly("createMimeDraft", "setRecipients", "sendDraft");
        assertThat(graph.recipients.values()).containsExactly(new Recipients(List.of(), List.of("ann@contoso.com"),
                List.of()));
    }

    private static final String SIGNED = HEAD + "MIME-Version: 1.0\r\nContent-Type: multipart/signed;"
            + " protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"b\"\r\n";

    @Test
    void aSignedMessageWithBccIsRefusedWholeInPassThrough() throws Exception {
        Result r = submit(SIGNED, List.of("boss@contoso.com", "ann@contoso.com", "hidden@contoso.com"),
                GraphSubmission.Drafts.none(), Mode.PASS_THROUGH);
        assertThat(graph.calls).isEmpty();
        assertThat(r.failure().get().reply().oneLine()).startsWith("554 5.7.0");
    }

    @Test
    void aSignedMessageWithBccGoesAsItIsToItsHeadersAndTheBccFailsInTheQueue() throws Exception {
        Result r = submit(SIGNED, List.of("boss@contoso.com", "ann@contoso.com", "hidden@contoso.com"),
                GraphSubmission.Drafts.none(), Mode.QUEUE);
        assertThat(graph.calls).containsExactly("sendMime");
        assertThat(r.delivered()).containsExactlyInAnyOrder("boss@contoso.com", "ann@contoso.com");
        assertThat(r.failed()).containsOnlyKeys("hidden@contoso.com");
        assertThat(r.failed().get("hidden@contoso.com")).contains("5.7.0", "Bcc");
    }

    @Test
    void aLostReplyToSendDraftIsNotSentAgainWhenTheDraftIsGone() throws Exception {
        Remembered d = new Remembered();
        graph.loseNextSendReply = RecordingGraph.failure(Kind.UNAVAILABLE, 0, "");
        List<String> rcpts = List.of("boss@contoso.com", "ann@contoso.com", "x@fabrikam.example");
        Result first = submit(HEAD, rcpts, d, Mode.QUEUE);
        assertThat(first.failure().get().effect()).isEqualTo(Effect.UNAVAILABLE);
        assertThat(d.id).isEqualTo("draft-1"); // recorded before the send
        graph.calls.clear();
        Result retry = submit(HEAD, rcpts, d, Mode.QUEUE);
        assertThat(retry.failure()).isEmpty();
        assertThat(retry.delivered()).hasSize(3);
        assertThat(graph.calls).containsExactly("message"); // never sent twice
        assertThat(d.id).isNull();
    }

    @Test
    void aDraftStillThereAfterAFailedSendIsSentAgain() throws Exception {
        Remembered d = new Remembered();
        graph.failNext.put("sendDraft", RecordingGraph.failure(Kind.SERVER, 500, "ErrorInternalServerError"));
        List<String> rcpts = List.of("boss@contoso.com", "ann@contoso.com", "x@fabrikam.example");
        assertThat(submit(HEAD, rcpts, d, Mode.QUEUE).failure()).isPresent();
        graph.calls.clear();
        Result retry = submit(HEAD, rcpts, d, Mode.QUEUE);
        assertThat(retry.failure()).isEmpty();
        assertThat(graph.calls).containsExactly("message", "sendDraft");
        assertThat(graph.drafts).isEmpty();
    }

    @Test
    void aPermanentFailureOfTheSendDeletesTheDraft() throws Exception {
        Remembered d = new Remembered();
        graph.failNext.put("sendDraft", RecordingGraph.failure(Kind.REJECTED, 400, "ErrorInvalidRecipients"));
        Result r = submit(HEAD, List.of("boss@contoso.com", "x@fabrikam.example"), d, Mode.QUEUE);
        assertThat(r.failure().get().reply().oneLine()).startsWith("550 5.1.1");
        assertThat(r.failed()).hasSize(2);
        org.awaitility.Awaitility.await().until(() -> graph.drafts.isEmpty());
        assertThat(d.id).isNull();
    }

    @Test
    void aPassThroughSendFailureDeletesTheDraftItLeft() throws Exception {
        graph.failNext.put("sendDraft", RecordingGraph.throttled(java.time.Duration.ofSeconds(3)));
        Result r = submit(HEAD, List.of("boss@contoso.com"), GraphSubmission.Drafts.none(), Mode.PASS_THROUGH);
        assertThat(r.failure().get().reply().oneLine()).startsWith("451 4.4.5");
        org.awaitility.Awaitility.await().until(() -> graph.drafts.isEmpty());
        assertThat(graph.calls).contains("delete");
    }

    @Test
    void aMessageOverOneRequestGoesThroughTheSplitAndUploads() throws Exception {
        graph.maxRequest = 10;
        AtomicBoolean closed = new AtomicBoolean();
        splitter = (message, max, work) -> {
            assertThat(Files.readString(message, StandardCharsets.ISO_8859_1)).contains("\r\n.stuffed\r\n");
            return new GraphSubmission.SplitMessage() {
                public MimeSource reduced() {
                    return bytes("Subject: reduced\r\n\r\n");
                }

                public List<AttachmentUpload> attachments() {
                    return List.of(new AttachmentUpload("big.pdf", "application/pdf", false, Optional.empty(),
                            bytes("%PDF")));
                }

                public void close() {
                    closed.set(true);
                }
            };
        };
        Result r = submit(HEAD, List.of("boss@contoso.com", "ann@contoso.com"), GraphSubmission.Drafts.none(),
                Mode.PASS_THROUGH);
        assertThat(r.failure()).isEmpty();
        assertThat(graph.calls).containsExactly("createMimeDraft", "addAttachment big.pdf", "setRecipients",
                "sendDraft");
        assertThat(graph.mime.get(0)).isEqualTo("Subject: reduced\r\n\r\n");
        assertThat(closed).isTrue();
        try (var left = Files.list(dir)) {
            assertThat(left.filter(p -> p.getFileName().toString().startsWith("graph-"))).isEmpty();
        }
    }

    @Test
    void aSignedMessageOverOneRequestIsRefusedForGood() throws Exception {
        graph.maxRequest = 10;
        Result r = submit(SIGNED, List.of("boss@contoso.com", "ann@contoso.com"), GraphSubmission.Drafts.none(),
                Mode.QUEUE);
        assertThat(graph.calls).isEmpty();
        assertThat(r.failure().get().reply().oneLine()).startsWith("552 5.3.4");
        assertThat(r.failed()).hasSize(2);
    }

    static MimeSource bytes(String s) {
        byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        return new MimeSource() {
            public long size() {
                return b.length;
            }

            public InputStream open() throws IOException {
                return new ByteArrayInputStream(b);
            }
        };
    }
}
