package io.mailproxy.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.slf4j.MDC;

class SessionIdsTest {

    @Test
    void theMdcHandlerPutsTheIdAroundEachEventAndRestoresWhatWasThere() {
        List<String> seen = new ArrayList<>();
        EmbeddedChannel channel = new EmbeddedChannel();
        SessionIds.set(channel, "smtp-7");
        channel.pipeline().addLast(SessionIds.mdcHandler(), new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                seen.add("read " + msg + " " + MDC.get("session"));
            }

            @Override
            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                seen.add("event " + evt + " " + MDC.get("session"));
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                seen.add("error " + cause.getMessage() + " " + MDC.get("session"));
            }
        });
        MDC.put("session", "outer");
        try {
            channel.writeInbound("line");
            channel.pipeline().fireUserEventTriggered("tick");
            channel.pipeline().fireExceptionCaught(new IllegalStateException("bad"));
            assertThat(MDC.get("session")).isEqualTo("outer");
        } finally {
            MDC.remove("session");
            channel.finishAndReleaseAll();
        }
        assertThat(seen).containsExactly("read line smtp-7", "event tick smtp-7", "error bad smtp-7");
    }

    @Test
    void runSetsTheIdForCallbacksAndAChannelWithoutOneShowsADash() {
        EmbeddedChannel with = new EmbeddedChannel();
        EmbeddedChannel without = new EmbeddedChannel();
        try {
            SessionIds.set(with, "imap-1z");
            AtomicReference<String> inside = new AtomicReference<>();
            SessionIds.run(with, () -> inside.set(MDC.get(SessionIds.MDC_KEY)));
            assertThat(inside).hasValue("imap-1z");
            assertThat(MDC.get(SessionIds.MDC_KEY)).isNull();
            assertThat(SessionIds.of(with)).isEqualTo("imap-1z");
            assertThat(SessionIds.of(without)).isEqualTo("-");
        } finally {
            with.finishAndReleaseAll();
            without.finishAndReleaseAll();
        }
    }
}
