package io.mailproxy.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The PROXY header a trusted load balancer sends (v1 text, v2 binary), read before the session starts, and the guard
 * that closes a connection from an untrusted address that sends one.
 */
class ProxyProtocolHandlerTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final String AFTER = "A1 NOOP\r\n";

    /** What the runtime would do: records the admission and puts a "frontend" behind the handler. */
    private static final class Runtime {
        final List<InetSocketAddress> admitted = new ArrayList<>();
        final List<String> refused = new ArrayList<>();
        final Frontend frontend = new Frontend();
        int admissions;
        EmbeddedChannel channel;

        void admit(InetSocketAddress client) {
            admissions++;
            admitted.add(client);
            channel.pipeline().addLast("frontend", frontend);
        }
    }

    /** Counts channelActive and collects the bytes it reads. */
    private static final class Frontend extends ChannelInboundHandlerAdapter {
        final ByteArrayOutputStream read = new ByteArrayOutputStream();
        int active;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            active++;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                byte[] bytes = new byte[buf.readableBytes()];
                buf.readBytes(bytes);
                read.writeBytes(bytes);
            } finally {
                buf.release();
            }
        }

        String text() {
            return read.toString(StandardCharsets.ISO_8859_1);
        }
    }

    /** A channel as the acceptor hands it over: the handlers are installed before it is registered and active. */
    private static Runtime trusted() {
        Runtime runtime = new Runtime();
        EmbeddedChannel channel = new EmbeddedChannel(false, false);
        runtime.channel = channel;
        ProxyProtocolHandler.install(channel, TIMEOUT, runtime::admit, runtime.refused::add);
        register(channel);
        return runtime;
    }

    private static Runtime untrusted() {
        Runtime runtime = new Runtime();
        EmbeddedChannel channel = new EmbeddedChannel(false, false);
        runtime.channel = channel;
        ProxyHeaderGuard.install(channel, runtime.refused::add);
        channel.pipeline().addLast("frontend", runtime.frontend);
        register(channel);
        return runtime;
    }

    private static void register(EmbeddedChannel channel) {
        try {
            channel.register();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** v2 PROXY over TCP/IPv4 from 192.0.2.10:5555 to 10.0.0.1:1143, with a TLV as HAProxy sends (unique id). */
    private static byte[] v2Tcp4() {
        byte[] tlv = {0x05, 0x00, 0x03, 'a', 'b', 'c'};
        byte[] address = {(byte) 192, 0, 2, 10, 10, 0, 0, 1, 0x15, (byte) 0xB3, 0x04, 0x77};
        int length = address.length + tlv.length;
        return concat(V2_SIGNATURE, new byte[] {0x21, 0x11, 0, (byte) length}, address, tlv);
    }

    /** v2 LOCAL (a health check): no address block. */
    private static byte[] v2Local() {
        return concat(V2_SIGNATURE, new byte[] {0x20, 0x00, 0, 0});
    }

    private static void assertProxied(Runtime r, String host, int port) {
        assertThat(r.refused).isEmpty();
        assertThat(r.admitted).containsExactly(new InetSocketAddress(host, port));
        assertThat(ClientAddress.of(r.channel)).isEqualTo(new InetSocketAddress(host, port));
        assertThat(r.frontend.active).as("the frontend greets once, after the header").isEqualTo(1);
        assertThat(r.frontend.text()).as("bytes after the header reach the frontend").isEqualTo(AFTER);
        assertThat(r.channel.pipeline().get(ProxyProtocolHandler.NAME)).isNull();
        assertThat(r.channel.pipeline().get(ProxyProtocolHandler.DECODER)).isNull();
        assertThat(r.channel.isOpen()).isTrue();
    }

    @Test
    void v1Tcp4NamesTheClientAndTheBytesAfterTheHeaderReachTheFrontend() {
        Runtime r = trusted();
        try {
            assertThat(r.frontend.active).isZero();
            r.channel.writeInbound(Unpooled.wrappedBuffer(ascii("PROXY TCP4 192.0.2.10 10.0.0.1 5555 1143\r\n" + AFTER)));
            assertProxied(r, "192.0.2.10", 5555);
            assertThat((Object) r.channel.readOutbound()).as("nothing written").isNull();
        } finally {
            r.channel.finishAndReleaseAll();
        }
    }

    @Test
    void v1Tcp6() {
        Runtime r = trusted();
        try {
            r.channel.writeInbound(Unpooled.wrappedBuffer(ascii("PROXY TCP6 2001:db8::10 2001:db8::1 5555 1143\r\n"
                    + AFTER)));
            assertProxied(r, "2001:db8::10", 5555);
        } finally {
            r.channel.finishAndReleaseAll();
        }
    }

    @Test
    void v1UnknownIsServedAsTheLoadBalancerItself() {
        Runtime r = trusted();
        try {
            r.channel.writeInbound(Unpooled.wrappedBuffer(ascii("PROXY UNKNOWN\r\n" + AFTER)));
            assertThat(r.admitted).containsExactly((InetSocketAddress) null);
            assertThat(ClientAddress.of(r.channel)).isEqualTo(r.channel.remoteAddress());
            assertThat(r.frontend.active).isEqualTo(1);
            assertThat(r.frontend.text()).isEqualTo(AFTER);
        } finally {
            r.channel.finishAndReleaseAll();
        }
    }

    @Test
    void v2ProxyTcp4WithATlv() {
        Runtime r = trusted();
        try {
            r.channel.writeInbound(Unpooled.wrappedBuffer(concat(v2Tcp4(), ascii(AFTER))));
            assertProxied(r, "192.0.2.10", 5555);
        } finally {
            r.channel.finishAndReleaseAll();
        }
    }

    @Test
    void v2LocalIsAHealthCheckServedWithoutAClientAddress() {
        Runtime r = trusted();
        try {
            r.channel.writeInbound(Unpooled.wrappedBuffer(concat(v2Local(), ascii(AFTER))));
            assertThat(r.refused).isEmpty();
            assertThat(r.admitted).containsExactly((InetSocketAddress) null);
            assertThat(ClientAddress.of(r.channel)).isEqualTo(r.channel.remoteAddress());
            assertThat(r.frontend.active).isEqualTo(1);
            assertThat(r.frontend.text()).isEqualTo(AFTER);
        } finally {
            r.channel.finishAndReleaseAll();
        }
    }

    @Test
    void aHeaderSplitAtEveryPointIsReadWhole() {
        for (byte[] whole : List.of(concat(ascii("PROXY TCP4 192.0.2.10 10.0.0.1 5555 1143\r\n"), ascii(AFTER)),
                concat(v2Tcp4(), ascii(AFTER)))) {
            for (int split = 1; split < whole.length; split++) {
                Runtime r = trusted();
                try {
                    r.channel.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(whole, 0, split)));
                    r.channel.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(whole, split, whole.length)));
                    assertThat(r.admissions).as("split at %d", split).isEqualTo(1);
                    assertProxied(r, "192.0.2.10", 5555);
                } finally {
                    r.channel.finishAndReleaseAll();
                }
            }
        }
    }

    @Test
    void garbageInsteadOfAHeaderClosesTheConnectionAndSaysWhy() {
        Runtime r = trusted();
        try {
            r.channel.writeInbound(Unpooled.wrappedBuffer(ascii("A1 LOGIN user password\r\n")));
            assertThat(r.admitted).isEmpty();
            assertThat(r.refused).singleElement().asString().startsWith("invalid PROXY header: ");
            assertThat(r.channel.isOpen()).isFalse();
            assertThat(r.frontend.active).isZero();
        } finally {
            r.channel.finishAndReleaseAll();
        }
    }

    @Test
    void aMalformedV1AddressIsRefused() {
        Runtime r = trusted();
        try {
            r.channel.writeInbound(Unpooled.wrappedBuffer(ascii("PROXY TCP4 999.0.2.10 10.0.0.1 5555 1143\r\n")));
            assertThat(r.admitted).isEmpty();
            assertThat(r.refused).singleElement().asString().startsWith("invalid PROXY header: ");
            assertThat(r.channel.isOpen()).isFalse();
        } finally {
            r.channel.finishAndReleaseAll();
        }
    }

    @Test
    void aTrustedPeerThatSendsNoHeaderIsClosedAfterTheTimeout() {
        Runtime r = trusted();
        try {
            r.channel.writeInbound(Unpooled.wrappedBuffer(ascii("PROXY TCP4 192.0")));   // and then nothing
            r.channel.advanceTimeBy(TIMEOUT.toMillis() - 1, TimeUnit.MILLISECONDS);
            r.channel.runScheduledPendingTasks();
            assertThat(r.channel.isOpen()).isTrue();
            r.channel.advanceTimeBy(1, TimeUnit.MILLISECONDS);
            r.channel.runScheduledPendingTasks();
            assertThat(r.channel.isOpen()).isFalse();
            assertThat(r.refused).containsExactly("no PROXY header within 5 s (proxy-protocol.header-timeout)");
            assertThat(r.admitted).isEmpty();
            assertThat(r.frontend.active).isZero();
        } finally {
            r.channel.finishAndReleaseAll();
        }
    }

    @Test
    void anUntrustedPeerSendingAHeaderIsClosedWhereverItIsSplit() {
        for (byte[] header : List.of(ascii("PROXY TCP4 192.0.2.10 10.0.0.1 5555 1143\r\n"), v2Tcp4())) {
            for (int split = 1; split < 13; split++) {
                Runtime r = untrusted();
                try {
                    r.channel.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(header, 0, split)));
                    if (r.channel.isOpen()) {   // "PROXY " alone already decides
                        r.channel.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(header, split,
                                header.length)));
                    }
                    assertThat(r.refused).as("split at %d", split)
                            .containsExactly("a PROXY header from an address not in proxy-protocol.trusted");
                    assertThat(r.channel.isOpen()).isFalse();
                    assertThat(r.frontend.text()).as("the frontend never sees it").isEmpty();
                } finally {
                    r.channel.finishAndReleaseAll();
                }
            }
        }
    }

    @Test
    void anUntrustedPeerSpeakingItsProtocolPassesUntouched() {
        for (String first : List.of(AFTER, "PRO", "\r\n", "\r\nA1 NOOP\r\n")) {
            Runtime r = untrusted();
            try {
                assertThat(r.frontend.active).as("greeted at once").isEqualTo(1);
                r.channel.writeInbound(Unpooled.wrappedBuffer(ascii(first)));
                r.channel.writeInbound(Unpooled.wrappedBuffer(ascii("B2 LOGOUT\r\n")));
                assertThat(r.refused).isEmpty();
                assertThat(r.frontend.text()).isEqualTo(first + "B2 LOGOUT\r\n");
                assertThat(r.channel.pipeline().get(ProxyHeaderGuard.NAME)).isNull();
                assertThat(ClientAddress.of(r.channel)).isEqualTo(r.channel.remoteAddress());
            } finally {
                r.channel.finishAndReleaseAll();
            }
        }
    }
}
