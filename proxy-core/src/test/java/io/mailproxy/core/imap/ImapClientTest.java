package io.mailproxy.core.imap;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.upstream.UpstreamException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ImapClientTest {

    private final EmbeddedChannel ch = new EmbeddedChannel();
    private final ImapClient imap = ImapClient.attach(ch);

    @AfterEach
    void close() {
        ch.finishAndReleaseAll();
    }

    private String sent() {
        StringBuilder sb = new StringBuilder();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            sb.append(b.toString(StandardCharsets.UTF_8));
            b.release();
        }
        return sb.toString();
    }

    private void server(String s) {
        ch.writeInbound(Unpooled.copiedBuffer(s, StandardCharsets.UTF_8));
    }

    @Test
    void collectsUntaggedAndCompletes() throws Exception {
        CompletableFuture<ImapCompletion> f = imap.execute("EXAMINE INBOX");
        assertThat(sent()).isEqualTo("mpx1 EXAMINE INBOX\r\n");
        server("* 3 EXISTS\r\n* OK [UIDVALIDITY 1234] UIDs valid\r\n* LIST () \"/\" {3}\r\nabc\r\nmpx1 OK [READ-ONLY] EXAMINE done\r\n");
        ImapCompletion c = f.get();
        assertThat(c.isOk()).isTrue();
        assertThat(c.tag()).isEqualTo("mpx1");
        assertThat(c.text()).isEqualTo("[READ-ONLY] EXAMINE done");
        assertThat(c.responseCode()).contains("READ-ONLY");
        assertThat(c.untagged()).extracting(ImapResponse::text)
                .containsExactly("* 3 EXISTS", "* OK [UIDVALIDITY 1234] UIDs valid", "* LIST () \"/\" {3}\r\nabc");
        assertThat(c.untagged().get(1).status()).isEqualTo(ImapStatus.OK);
        assertThat(c.first("EXISTS")).isPresent();
        assertThat(c.all("LIST").get(0).values().get(3).asText()).isEqualTo("abc");
        assertThat(imap.isIdle()).isTrue();
    }

    @Test
    void queuesCommandsOneAtATime() throws Exception {
        CompletableFuture<ImapCompletion> a = imap.execute("NOOP");
        CompletableFuture<ImapCompletion> b = imap.execute("UID SEARCH ALL");
        assertThat(sent()).isEqualTo("mpx1 NOOP\r\n");
        server("mpx1 OK NOOP\r\n");
        assertThat(a.get().isOk()).isTrue();
        assertThat(sent()).isEqualTo("mpx2 UID SEARCH ALL\r\n");
        server("* SEARCH 4 9\r\nmpx2 NO [SERVERBUG] oops\r\n");
        ImapCompletion c = b.get();
        assertThat(c.status()).isEqualTo(ImapStatus.NO);
        assertThat(c.first("SEARCH").orElseThrow().values()).extracting(ImapValue::asText).containsExactly("SEARCH", "4", "9");
    }

    @Test
    void commandChainedInACompletionCallbackRuns() throws Exception {
        CompletableFuture<ImapCompletion> second = imap.execute("LOGIN a b").thenCompose(ok -> imap.execute("CAPABILITY"));
        assertThat(sent()).isEqualTo("mpx1 LOGIN a b\r\n");
        server("mpx1 OK done\r\n");
        assertThat(sent()).isEqualTo("mpx2 CAPABILITY\r\n");
        server("* CAPABILITY IMAP4rev1 IDLE\r\nmpx2 OK done\r\n");
        assertThat(second.get().first("CAPABILITY")).isPresent();
        assertThat(imap.isIdle()).isTrue();
    }

    @Test
    void streamsLiteralsToTheListener() throws Exception {
        List<String> seen = new ArrayList<>();
        StringBuilder body = new StringBuilder();
        CompletableFuture<ImapCompletion> f = imap.execute("UID FETCH 9 BODY.PEEK[]", new ImapResponseListener() {
            @Override
            public void untagged(ImapResponseLine line) {
                seen.add(line.text());
            }

            @Override
            public void literal(ImapLiteralChunk chunk) {
                body.append(chunk.content().toString(StandardCharsets.UTF_8));
            }
        });
        sent();
        server("* 1 FETCH (UID 9 BODY[] {10}\r\n01234");
        assertThat(body).hasToString("01234");
        assertThat(f).isNotDone();
        server("56789)\r\nmpx1 OK done\r\n");
        assertThat(body).hasToString("0123456789");
        assertThat(seen).containsExactly("* 1 FETCH (UID 9 BODY[] {10}", ")");
        assertThat(f.get().untagged()).isEmpty();
    }

    @Test
    void continuationIsHandedToTheListener() throws Exception {
        CompletableFuture<ImapCompletion> f = imap.execute("IDLE", new ImapResponseListener() {
            @Override
            public boolean continuation(ImapResponseLine line, ImapClient client) {
                client.write("DONE\r\n");
                return true;
            }
        });
        assertThat(sent()).isEqualTo("mpx1 IDLE\r\n");
        server("+ idling\r\n");
        assertThat(sent()).isEqualTo("DONE\r\n");
        server("mpx1 OK IDLE terminated\r\n");
        assertThat(f.get().isOk()).isTrue();
    }

    @Test
    void unexpectedContinuationFailsAndCloses() {
        CompletableFuture<ImapCompletion> f = imap.execute("APPEND x {3}");
        sent();
        server("+ Ready\r\n");
        assertThat(f).isCompletedExceptionally();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void byeAndCloseFailPendingWithTheUpstreamText() {
        CompletableFuture<ImapCompletion> f = imap.execute("NOOP");
        CompletableFuture<ImapCompletion> g = imap.execute("NOOP");
        sent();
        server("* BYE Session invalidated - AccessTokenExpired\r\n");
        ch.close();
        assertThat(f).isCompletedExceptionally();
        assertThat(g).isCompletedExceptionally();
        try {
            f.get();
        } catch (ExecutionException | InterruptedException e) {
            UpstreamException u = (UpstreamException) e.getCause();
            assertThat(u.kind()).isEqualTo(UpstreamException.Kind.UNREACHABLE);
            assertThat(u.upstreamReply()).contains("* BYE Session invalidated - AccessTokenExpired");
        }
        assertThat(imap.execute("NOOP")).isCompletedExceptionally();
    }

    @Test
    void wrongTagIsAProtocolError() {
        CompletableFuture<ImapCompletion> f = imap.execute("NOOP");
        sent();
        server("zz9 OK what\r\n");
        assertThat(f).isCompletedExceptionally();
        assertThat(ch.isOpen()).isFalse();
    }

    @Test
    void collectingTooMuchFailsTheCommand() {
        ch.pipeline().remove(ImapClient.HANDLER_NAME);
        ch.pipeline().remove(ImapClient.DECODER_NAME);
        ImapClient small = ImapClient.attach(ch, "t", 1024, 100);
        CompletableFuture<ImapCompletion> f = small.execute("UID SEARCH ALL");
        assertThat(sent()).isEqualTo("t1 UID SEARCH ALL\r\n");
        server("* SEARCH " + "1 ".repeat(100) + "\r\nt1 OK done\r\n");
        assertThat(f).isCompletedExceptionally();
        assertThat(small.isIdle()).isTrue();
    }

    @Test
    void detachLeavesThePipelineAsFound() {
        imap.detach();
        assertThat(ch.pipeline().get(ImapClient.DECODER_NAME)).isNull();
        assertThat(ch.pipeline().get(ImapClient.HANDLER_NAME)).isNull();
    }
}
