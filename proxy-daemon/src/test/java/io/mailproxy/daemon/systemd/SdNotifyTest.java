package io.mailproxy.daemon.systemd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollDomainDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainDatagramPacket;
import io.netty.channel.unix.DomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A receiver bound with Netty epoll plays systemd's notification socket. */
class SdNotifyTest {

    private static EventLoopGroup group;

    private final BlockingQueue<String> received = new LinkedBlockingQueue<>();
    private Channel receiver;
    private SdNotify notify;

    @BeforeAll
    static void epoll() {
        assumeTrue(Epoll.isAvailable(), "native epoll is not available here");
        group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    }

    @AfterAll
    static void stopGroup() {
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    @AfterEach
    void close() {
        if (notify != null) {
            notify.close();
        }
        if (receiver != null) {
            receiver.close().syncUninterruptibly();
        }
    }

    private void listen(String address) {
        receiver = new Bootstrap().group(group).channel(EpollDomainDatagramChannel.class)
                .handler(new SimpleChannelInboundHandler<DomainDatagramPacket>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, DomainDatagramPacket packet) {
                        received.add(packet.content().toString(StandardCharsets.UTF_8));
                    }
                })
                .bind(new DomainSocketAddress(address)).syncUninterruptibly().channel();
    }

    private String next() throws InterruptedException {
        String message = received.poll(5, TimeUnit.SECONDS);
        assertThat(message).as("a datagram within 5 s").isNotNull();
        return message;
    }

    @Test
    void sendsReadyReloadingStatusAndStoppingToAPathSocket(@TempDir Path dir) throws Exception {
        String path = dir.resolve("notify").toString();
        listen(path);
        notify = SdNotify.create(path, () -> 1234567890L);

        assertThat(notify.enabled()).isTrue();
        notify.ready("serving 3 listeners");
        notify.reloading();
        notify.ready("reloaded:\nserving 2 listeners");
        notify.status("2 sessions");
        notify.stopping();

        assertThat(next()).isEqualTo("READY=1\nSTATUS=serving 3 listeners");
        assertThat(next()).isEqualTo("RELOADING=1\nMONOTONIC_USEC=1234567890\nSTATUS=reloading the configuration");
        assertThat(next()).isEqualTo("READY=1\nSTATUS=reloaded: serving 2 listeners");
        assertThat(next()).isEqualTo("STATUS=2 sessions");
        assertThat(next()).isEqualTo("STOPPING=1\nSTATUS=shutting down");
        assertThat(received).isEmpty();
    }

    @Test
    void sendsToAnAbstractSocketNamedWithAnAt() throws Exception {
        String name = "mailproxy-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        listen("\0" + name);
        notify = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", "@" + name));

        notify.ready("up");

        assertThat(next()).isEqualTo("READY=1\nSTATUS=up");
    }

    @Test
    void monotonicUsecComesFromTheMonotonicClock(@TempDir Path dir) throws Exception {
        String path = dir.resolve("notify").toString();
        listen(path);
        notify = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", path));
        long before = System.nanoTime() / 1000;

        notify.reloading();

        String message = next();
        assertThat(message).startsWith("RELOADING=1\nMONOTONIC_USEC=");
        long usec = Long.parseLong(message.split("\n")[1].substring("MONOTONIC_USEC=".length()));
        assertThat(usec).isBetween(before, System.nanoTime() / 1000);
    }

    @Test
    void isANoOpWithoutNotifySocketOrWithAnAddressItDoesNotKnow() {
        SdNotify unset = SdNotify.fromEnvironment(Map.of());
        SdNotify empty = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", ""));
        SdNotify vsock = SdNotify.fromEnvironment(Map.of("NOTIFY_SOCKET", "vsock:2:1234"));

        for (SdNotify n : new SdNotify[] {unset, empty, vsock}) {
            assertThat(n.enabled()).isFalse();
            n.ready("x");
            n.reloading();
            n.stopping();
            n.close();
        }
    }

    @Test
    void aSocketNobodyListensOnIsNotAnError(@TempDir Path dir) {
        notify = SdNotify.create(dir.resolve("nobody").toString(), () -> 1L);

        assertThat(notify.enabled()).isTrue();
        notify.ready("up");      // logged once as a warning, never thrown
        notify.stopping();
    }
}
