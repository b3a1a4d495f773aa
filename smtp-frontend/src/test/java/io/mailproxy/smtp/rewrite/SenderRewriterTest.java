package io.mailproxy.smtp.rewrite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mailproxy.core.config.ClientConfig.SmtpPolicy.OriginalFrom;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SenderRewriterTest {

    private static final String FROM = "reports@contoso.com";

    /** Feeds the message split in two at {@code split}; returns what would go upstream. */
    private static String rewrite(String message, OriginalFrom policy, int limit, int split) throws Exception {
        SenderRewriter r = new SenderRewriter(FROM, policy, limit);
        byte[] bytes = message.getBytes(StandardCharsets.ISO_8859_1);
        StringBuilder out = new StringBuilder();
        for (ByteBuf in : new ByteBuf[] {Unpooled.wrappedBuffer(bytes, 0, split),
                Unpooled.wrappedBuffer(bytes, split, bytes.length - split)}) {
            ByteBuf o = r.process(in, ByteBufAllocator.DEFAULT);
            out.append(o.toString(StandardCharsets.ISO_8859_1));
            o.release();
        }
        ByteBuf rest = r.finish(ByteBufAllocator.DEFAULT);
        out.append(rest.toString(StandardCharsets.ISO_8859_1));
        rest.release();
        return out.toString();
    }

    /** The same result at every split point. */
    private static String rewrite(String message, OriginalFrom policy) throws Exception {
        String whole = rewrite(message, policy, 65536, 0);
        for (int i = 1; i <= message.length(); i++) {
            assertThat(rewrite(message, policy, 65536, i)).as("split at %d", i).isEqualTo(whole);
        }
        return whole;
    }

    @Test
    void plainAddressMovesToReplyTo() throws Exception {
        assertThat(rewrite("From: scanner@legacy.example\r\nSubject: x\r\n\r\nbody\r\n", OriginalFrom.REPLY_TO))
                .isEqualTo("From: reports@contoso.com\r\nReply-To: scanner@legacy.example\r\nSubject: x\r\n\r\nbody\r\n");
    }

    /** Red-team findings: every field a mail reader may show as the sender is the account's, and once only. */
    @Test
    void resentFieldsRepeatedSendersAndAddressLikeDisplayNamesCannotSpoofTheSender() throws Exception {
        assertThat(rewrite("Resent-From: ceo@victim.example\r\nResent-Sender: ceo@victim.example\r\n"
                + "Resent-From: x@y.example\r\nFrom: a@b.example\r\nSender:\r\nSender:\r\nSender: z@y.example\r\n"
                + "\r\nb\r\n", OriginalFrom.REPLY_TO))
                .isEqualTo("Resent-From: reports@contoso.com\r\nResent-Sender: reports@contoso.com\r\n"
                        + "From: reports@contoso.com\r\nReply-To: a@b.example\r\nSender: reports@contoso.com\r\n"
                        + "\r\nb\r\n");
        assertThat(rewrite("From: \"ceo@victim.example\" <a@b.example>\r\n\r\nb\r\n", OriginalFrom.REPLY_TO))
                .startsWith("From: reports@contoso.com\r\n");
        assertThat(rewrite("From: =?UTF-8?B?Q0VPIDxjZW9AdmljdGltLmV4YW1wbGU+?= <a@b.example>\r\n\r\nb\r\n",
                OriginalFrom.REPLY_TO)).startsWith("From: reports@contoso.com\r\n");
    }

    @Test
    void anEmptyMessageStillGetsTheAccountsFrom() throws Exception {
        assertThat(rewrite("", OriginalFrom.REPLY_TO, 65536, 0)).isEqualTo("From: reports@contoso.com\r\n");
    }

    @Test
    void encodedWordDisplayNameIsKept() throws Exception {
        assertThat(rewrite("From: =?ISO-8859-1?Q?J=F6rg?= <joerg@legacy.example>\r\n\r\nb\r\n", OriginalFrom.REPLY_TO))
                .isEqualTo("From: =?UTF-8?Q?J=C3=B6rg?= <reports@contoso.com>\r\n"
                        + "Reply-To: =?ISO-8859-1?Q?J=F6rg?= <joerg@legacy.example>\r\n\r\nb\r\n");
    }

    @Test
    void controlCharactersInADecodedDisplayNameNeverReachTheRewrittenFrom() throws Exception {
        for (String control : new String[] {"=0D", "=0A", "=0D=0A", "=09", "=00", "=7F", "=0D=0D=0A=0A"}) {
            String out = rewrite("From: =?UTF-8?Q?x" + control + "y?= <a@b.example>\r\nSubject: s\r\n\r\nb\r\n",
                    OriginalFrom.REPLY_TO);
            String headers = out.substring(0, out.indexOf("\r\n\r\n") + 4);
            assertThat(headers.replace("\r\n", "")).as(control).doesNotContain("\r").doesNotContain("\n");
            assertThat(headers).as(control).isEqualTo("From: x y <reports@contoso.com>\r\n"
                    + "Reply-To: =?UTF-8?Q?x" + control + "y?= <a@b.example>\r\nSubject: s\r\n\r\n");
        }
        assertThat(rewrite("From: =?UTF-8?B?DQo=?= <a@b.example>\r\n\r\nb\r\n", OriginalFrom.DROP))
                .isEqualTo("From: reports@contoso.com\r\n\r\nb\r\n");
    }

    @Test
    void severalAddressesLoseTheDisplayNameAndAllGoToReplyTo() throws Exception {
        assertThat(rewrite("From: Ann <ann@x.example>, Bob <bob@x.example>\r\nSender: ann@x.example\r\n\r\n",
                OriginalFrom.REPLY_TO)).isEqualTo("From: reports@contoso.com\r\n"
                + "Reply-To: Ann <ann@x.example>, Bob <bob@x.example>\r\nSender: reports@contoso.com\r\n\r\n");
    }

    @Test
    void groupSyntax() throws Exception {
        assertThat(rewrite("From: Scanners: a@x.example, b@x.example;\r\n\r\nz\r\n", OriginalFrom.REPLY_TO))
                .isEqualTo("From: reports@contoso.com\r\nReply-To: Scanners: a@x.example, b@x.example;\r\n\r\nz\r\n");
    }

    @Test
    void foldedFromKeepsItsFoldingInReplyTo() throws Exception {
        assertThat(rewrite("Subject: s\r\nFrom: \"Very Long Name\"\r\n\t<long@legacy.example>\r\nX-A: 1\r\n\r\nb\r\n",
                OriginalFrom.REPLY_TO)).isEqualTo("Subject: s\r\nFrom: Very Long Name <reports@contoso.com>\r\n"
                + "Reply-To: \"Very Long Name\"\r\n\t<long@legacy.example>\r\nX-A: 1\r\n\r\nb\r\n");
    }

    @Test
    void existingReplyToWins() throws Exception {
        assertThat(rewrite("Reply-To: desk@legacy.example\r\nfrom: a@legacy.example\r\n\r\nb\r\n", OriginalFrom.REPLY_TO))
                .isEqualTo("Reply-To: desk@legacy.example\r\nFrom: reports@contoso.com\r\n\r\nb\r\n");
    }

    @Test
    void dropPolicyDropsTheOriginal() throws Exception {
        assertThat(rewrite("From: a@legacy.example\r\n\r\nb\r\n", OriginalFrom.DROP))
                .isEqualTo("From: reports@contoso.com\r\n\r\nb\r\n");
    }

    @Test
    void ownAddressIsNotRepeatedInReplyTo() throws Exception {
        assertThat(rewrite("From: Reports <REPORTS@contoso.com>\r\n\r\nb\r\n", OriginalFrom.REPLY_TO))
                .isEqualTo("From: Reports <reports@contoso.com>\r\n\r\nb\r\n");
    }

    @Test
    void missingFromIsAdded() throws Exception {
        assertThat(rewrite("Subject: none\r\n\r\nb\r\n", OriginalFrom.REPLY_TO))
                .isEqualTo("From: reports@contoso.com\r\nSubject: none\r\n\r\nb\r\n");
        assertThat(rewrite("\r\nonly body\r\n", OriginalFrom.REPLY_TO))
                .isEqualTo("From: reports@contoso.com\r\n\r\nonly body\r\n");
    }

    @Test
    void messageWithoutBodyIsRewrittenAtTheEnd() throws Exception {
        assertThat(rewrite("From: a@legacy.example\r\nSubject: x\r\n", OriginalFrom.DROP))
                .isEqualTo("From: reports@contoso.com\r\nSubject: x\r\n");
    }

    @Test
    void bodyAndOtherFieldsStayByteForByte() throws Exception {
        String body = "From: not a header in the body\r\n..stuffed\r\n\u00ff\u0080 raw octets\r\n";
        assertThat(rewrite("X-Raw: \u00c3\u00a9t\u00c3\u00a9\r\n..X-Dot: stuffed\r\nFrom: a@legacy.example\r\n\r\n" + body,
                OriginalFrom.DROP)).isEqualTo("X-Raw: \u00c3\u00a9t\u00c3\u00a9\r\n..X-Dot: stuffed\r\n"
                + "From: reports@contoso.com\r\n\r\n" + body);
    }

    @Test
    void headerBlockOverTheLimitIsRefused() {
        String message = "From: a@legacy.example\r\n" + "X-Fill: 0123456789\r\n".repeat(100) + "\r\nbody\r\n";
        assertThatThrownBy(() -> rewrite(message, OriginalFrom.REPLY_TO, 1024, 10))
                .isInstanceOf(HeaderBlockTooLargeException.class);
    }

    @Test
    void growthBoundCoversTheRewrite() throws Exception {
        String name = "\u00e9".repeat(SenderRewriter.MAX_PERSONAL);
        String header = "From: =?UTF-8?B?" + java.util.Base64.getEncoder().encodeToString(name.getBytes(StandardCharsets.UTF_8))
                + "?= <a@b.example>\r\nSender: a@b.example\r\n";
        String message = header + "\r\nbody\r\n";
        String out = rewrite(message, OriginalFrom.REPLY_TO, 4096, 0);
        assertThat((long) out.length()).isLessThanOrEqualTo(message.length() + SenderRewriter.sizeGrowth(FROM, 4096));
    }
}
