package io.mailproxy.pop3.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.upstream.UpstreamSession;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.core.FakeListener;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** source = pop3: the session relays to an upstream POP3 channel the test plays. */
class PassThroughSessionTest {

    private final FakeCore core = new FakeCore().client("alice", "secret", ClientConfig.Pop3Policy.DEFAULT);
    private EmbeddedChannel ch;
    private EmbeddedChannel upstream;

    @BeforeEach
    void login() {
        upstream = new EmbeddedChannel();
        upstream.config().setAutoRead(false);
        core.connect = () -> CompletableFuture.completedFuture(new UpstreamSession(Protocol.POP3, upstream,
                "+OK ready", Set.of("TOP", "UIDL", "USER", "SASL PLAIN XOAUTH2", "EXPIRE NEVER", "STLS"), Optional.empty()));
        Pop3Frontend frontend = new Pop3Frontend(core);
        ch = new EmbeddedChannel(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel c) {
                frontend.initChannel(c, new FakeListener(Protocol.POP3));
            }
        });
        send("USER alice\r\nPASS secret\r\n");
        assertThat(out()).isEqualTo("+OK mailproxy POP3 ready\r\n+OK Send the password\r\n+OK Logged in, maildrop ready\r\n");
    }

    @AfterEach
    void close() {
        ch.finishAndReleaseAll();
        upstream.finishAndReleaseAll();
    }

    private void send(String text) {
        ch.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
        ch.runPendingTasks();
    }

    private void upstreamSays(String text) {
        upstream.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.ISO_8859_1));
        upstream.runPendingTasks();
        ch.runPendingTasks();
    }

    private String out() {
        ch.runPendingTasks();
        return drain(ch);
    }

    private String upstreamGot() {
        upstream.runPendingTasks();
        return drain(upstream);
    }

    private static String drain(EmbeddedChannel c) {
        StringBuilder b = new StringBuilder();
        Object m;
        while ((m = c.readOutbound()) != null) {
            ByteBuf buf = (ByteBuf) m;
            b.append(buf.toString(StandardCharsets.ISO_8859_1));
            buf.release();
        }
        return b.toString();
    }

    @Test
    void pipelinedCommandsGoUpOneAtATimeAndMultiLineRepliesStreamUnchanged() {
        send("LIST\r\nRETR 1\r\ndele 1\r\n");
        assertThat(upstreamGot()).isEqualTo("LIST\r\n");
        upstreamSays("+OK 2 messages\r\n1 12");
        assertThat(out()).isEqualTo("+OK 2 messages\r\n1 12");
        assertThat(upstreamGot()).isEmpty();
        upstreamSays("0\r\n2 200\r\n.");
        assertThat(upstreamGot()).isEmpty();
        upstreamSays("\r\n");
        assertThat(out()).isEqualTo("0\r\n2 200\r\n.\r\n");
        assertThat(upstreamGot()).isEqualTo("RETR 1\r\n");
        upstreamSays("+OK 120 octets\r\n..dotted\r\n.\r");
        upstreamSays("\n");
        assertThat(out()).isEqualTo("+OK 120 octets\r\n..dotted\r\n.\r\n");
        assertThat(upstreamGot()).isEqualTo("DELE 1\r\n");
        upstreamSays("+OK message 1 deleted\r\n");
        assertThat(out()).isEqualTo("+OK message 1 deleted\r\n");
    }

    @Test
    void errorReplyToAMultiLineCommandIsOneLine() {
        send("RETR 9\r\nNOOP\r\n");
        assertThat(upstreamGot()).isEqualTo("RETR 9\r\n");
        upstreamSays("-ERR no such message\r\n");
        assertThat(out()).isEqualTo("-ERR no such message\r\n");
        assertThat(upstreamGot()).isEqualTo("NOOP\r\n");
    }

    @Test
    void capaIsAnsweredByTheProxyWithTheUpstreamsTransactionCapabilities() {
        send("CAPA\r\n");
        assertThat(out()).isEqualTo("+OK Capability list follows\r\nEXPIRE NEVER\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
                + "AUTH-RESP-CODE\r\nPIPELINING\r\nIMPLEMENTATION mailproxy\r\n.\r\n");
        assertThat(upstreamGot()).isEmpty();
    }

    @Test
    void malformedAndUnknownCommandsNeverReachTheUpstream() {
        send("RETR x\r\nXTND XMIT\r\nUSER bob\r\nTOP 1\r\n");
        assertThat(out()).isEqualTo("-ERR Invalid message number\r\n-ERR Unknown command\r\n-ERR Already logged in\r\n"
                + "-ERR Syntax: TOP msg n\r\n");
        assertThat(upstreamGot()).isEmpty();
    }

    @Test
    void quitIsRelayedAndBothSidesClose() {
        send("QUIT\r\n");
        assertThat(upstreamGot()).isEqualTo("QUIT\r\n");
        upstreamSays("+OK bye, 1 message deleted\r\n");
        assertThat(out()).isEqualTo("+OK bye, 1 message deleted\r\n");
        assertThat(ch.isActive()).isFalse();
        assertThat(upstream.isActive()).isFalse();
    }

    @Test
    void clientDropClosesTheUpstreamWithoutQuitSoNothingIsDeleted() {
        send("DELE 1\r\n");
        upstreamGot();
        upstreamSays("+OK deleted\r\n");
        ch.close();
        ch.runPendingTasks();
        assertThat(upstreamGot()).isEmpty();
        assertThat(upstream.isActive()).isFalse();
    }

    @Test
    void upstreamDropWhileIdleIsSysTempAndClose() {
        upstream.close();
        upstream.runPendingTasks();
        assertThat(out()).isEqualTo("-ERR [SYS/TEMP] Upstream connection lost, try again later\r\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void upstreamDropInsideABodyNeverEndsTheMessageAndSaysWhyOnALineOfItsOwn() {
        send("RETR 1\r\n");
        upstreamGot();
        upstreamSays("+OK\r\nhalf a mess");
        upstream.close();
        upstream.runPendingTasks();
        // no terminating "." ever: the client cannot take the half message as complete
        assertThat(out()).isEqualTo("+OK\r\nhalf a mess\r\n-ERR [SYS/TEMP] Upstream connection lost, try again later\r\n");
        assertThat(ch.isActive()).isFalse();
    }

    @Test
    void unsolicitedUpstreamBytesEndTheSession() {
        upstreamSays("+OK surprise\r\n");
        assertThat(out()).isEqualTo("-ERR [SYS/TEMP] Upstream connection lost, try again later\r\n");
        assertThat(upstream.isActive()).isFalse();
    }
}
