package io.mailproxy.core.runtime;

import io.mailproxy.testkit.MutableClock;
import static io.mailproxy.core.runtime.TestConfigs.config;
import static io.mailproxy.core.runtime.TestConfigs.plain;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.spi.Frontend;
import io.mailproxy.core.spi.ListenerContext;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SessionLogTest {

    private static final Transport TRANSPORT = Transport.detect();
    private static EventLoopGroup workers;

    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private final LogCapture logs = new LogCapture();
    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T21:00:00Z"));
    private ServerRuntime runtime;

    @BeforeAll
    static void workers() {
        workers = TRANSPORT.newEventLoopGroup(1, "test-io");
    }

    @AfterAll
    static void stopWorkers() {
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void stop() {
        if (runtime != null) {
            runtime.shutdown(Duration.ofSeconds(2));
        }
        logs.close();
    }

    private InetSocketAddress start(ListenerConfig listener) {
        runtime = new ServerRuntime(TRANSPORT, workers, Map.of(listener.protocol(), new IdentifyingFrontend()), meters,
                clock);
        runtime.start(config(listener));
        return runtime.boundAddresses().get(0);
    }

    private static java.net.Socket connect(InetSocketAddress address) {
        try {
            java.net.Socket socket = new java.net.Socket();
            socket.connect(address, 5000);
            return socket;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private List<String> sessionLines() {
        return logs.lines(Level.INFO).stream().filter(l -> l.startsWith("session ")).toList();
    }

    @Test
    void logsOneStartAndOneEndLineWithClientAccountBytesDurationAndOutcome() {
        InetSocketAddress address = start(plain(Protocol.POP3, "127.0.0.1", 0));
        String from;
        java.net.Socket socket = connect(address);
        try (LineClient client = new LineClient(socket)) {
            from = "127.0.0.1:" + socket.getLocalPort();
            assertThat(client.readLine()).isEqualTo("+OK hello");                      // 11 bytes out
            assertThat(client.ask("LOGIN scanner reports@contoso.com")).isEqualTo("+OK"); // 35 in, 5 out
            await().until(() -> runtime.sessions().size() == 1 && runtime.sessions().get(0).bytesIn() == 35);
            SessionInfo info = runtime.sessions().get(0);
            assertThat(info.protocol()).isEqualTo(Protocol.POP3);
            assertThat(info.remote()).isEqualTo(from);
            assertThat(info.client()).contains("scanner");
            assertThat(info.account()).contains("reports@contoso.com");
            assertThat(info.opened()).isEqualTo(Instant.parse("2026-11-25T21:00:00Z"));
            assertThat(info.bytesOut()).isEqualTo(16);

            clock.advance(Duration.ofMillis(12_345));
            assertThat(client.ask("QUIT")).isEqualTo("+OK bye");                      // 6 in, 9 out
            assertThat(client.readLine()).isNull();
        }

        await().until(() -> sessionLines().size() == 2);
        assertThat(sessionLines()).containsExactly(
                "session start: protocol=pop3 from=" + from + " listener=pop3 127.0.0.1:" + address.getPort(),
                "session end: protocol=pop3 client=scanner account=reports@contoso.com from=" + from
                        + " in=41 out=25 duration=12.3s outcome=quit");
        assertThat(meters.get("mailproxy.session.bytes").tags("protocol", "pop3", "direction", "in").counter()
                .count()).isEqualTo(41);
        assertThat(meters.get("mailproxy.session.bytes").tags("protocol", "pop3", "direction", "out").counter()
                .count()).isEqualTo(25);
        assertThat(runtime.sessions()).isEmpty();
    }

    @Test
    void aClientThatJustGoesAwayIsClosedWithUnknownClientAndAccount() {
        InetSocketAddress address = start(plain(Protocol.IMAP, "127.0.0.1", 0));
        String from;
        java.net.Socket socket = connect(address);
        try (LineClient client = new LineClient(socket)) {
            from = "127.0.0.1:" + socket.getLocalPort();
            assertThat(client.readLine()).isEqualTo("+OK hello");
        }

        await().until(() -> sessionLines().size() == 2);
        assertThat(sessionLines().get(1)).isEqualTo("session end: protocol=imap client=- account=- from=" + from
                + " in=0 out=11 duration=0.0s outcome=closed");
    }

    @Test
    void aFixedClientListenerNamesTheClientFromTheStart() {
        InetSocketAddress address = start(new ListenerConfig(Protocol.SMTP, "127.0.0.1", 0,
                Optional.of("scanner@contoso.com"), List.of(), Optional.empty()));
        try (LineClient client = LineClient.connect(address)) {
            assertThat(client.readLine()).isEqualTo("+OK hello");
            await().until(() -> runtime.sessions().size() == 1);
            assertThat(runtime.sessions().get(0).client()).contains("scanner@contoso.com");
            assertThat(runtime.sessions().get(0).account()).isEmpty();
        }
        await().until(() -> sessionLines().size() == 2);
        assertThat(sessionLines().get(1)).startsWith("session end: protocol=smtp client=scanner@contoso.com account=-");
    }

    @Test
    void valuesCannotBreakTheKeyValueFormat() {
        assertThat(SessionLog.endLine("imap", "evil client\nx=1", "", null, 1, 2, Duration.ofMillis(1050),
                "odd outcome")).isEqualTo("session end: protocol=imap client=evil_client_x=1 account=- from=- in=1 out=2"
                + " duration=1.1s outcome=odd_outcome");
    }

    @Test
    void identifyAndOutcomeAreNoOpsOnAChannelTheRuntimeDidNotAccept() {
        io.netty.channel.embedded.EmbeddedChannel channel = new io.netty.channel.embedded.EmbeddedChannel();
        try {
            SessionLog.identify(channel, "c", "a");
            SessionLog.outcome(channel, "quit");
            assertThat(channel.attr(Session.KEY).get()).isNull();
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    /** Greets; "LOGIN client account" identifies the session; QUIT records the outcome and closes. */
    private static final class IdentifyingFrontend implements Frontend {
        @Override
        public void initChannel(Channel channel, ListenerContext listener) {
            channel.pipeline().addLast(new LineBasedFrameDecoder(1000), new StringDecoder(StandardCharsets.US_ASCII),
                    new StringEncoder(StandardCharsets.US_ASCII), new SimpleChannelInboundHandler<String>() {
                        @Override
                        public void channelActive(ChannelHandlerContext ctx) {
                            ctx.writeAndFlush("+OK hello\r\n");
                        }

                        @Override
                        protected void channelRead0(ChannelHandlerContext ctx, String line) {
                            if (line.startsWith("LOGIN ")) {
                                String[] words = line.split(" ");
                                listener.authenticated(ctx.channel());
                                SessionLog.identify(ctx.channel(), words[1], words[2]);
                                ctx.writeAndFlush("+OK\r\n");
                            } else if (line.equals("QUIT")) {
                                SessionLog.outcome(ctx.channel(), "quit");
                                ctx.writeAndFlush("+OK bye\r\n").addListener(ChannelFutureListener.CLOSE);
                            }
                        }
                    });
        }

        @Override
        public void refuse(Channel channel, String reason) {
            channel.writeAndFlush(Unpooled.copiedBuffer("-ERR " + reason + "\r\n", StandardCharsets.US_ASCII))
                    .addListener(ChannelFutureListener.CLOSE);
        }
    }
}
