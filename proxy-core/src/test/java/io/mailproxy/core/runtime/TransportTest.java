package io.mailproxy.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TransportTest {

    @Test
    void detectPicksEpollWhereItLoadsAndNioOtherwise() {
        Transport transport = Transport.detect();
        if (Epoll.isAvailable()) {
            assertThat(transport.name()).isEqualTo("epoll");
            assertThat(transport.serverChannelClass()).isEqualTo(EpollServerSocketChannel.class);
            assertThat(transport.socketChannelClass()).isEqualTo(EpollSocketChannel.class);
        } else {
            assertThat(transport.name()).isEqualTo("nio");
            assertThatThrownBy(Transport::epoll).hasMessageStartingWith("native epoll transport is not available");
        }
    }

    @Test
    void nioIsAlwaysThere() {
        Transport nio = Transport.nio();
        assertThat(nio.name()).isEqualTo("nio");
        assertThat(nio.serverChannelClass()).isEqualTo(NioServerSocketChannel.class);
        assertThat(nio.socketChannelClass()).isEqualTo(NioSocketChannel.class);
    }

    @Test
    void eventLoopGroupsHaveTheThreadCountAndNamesAsked() throws Exception {
        EventLoopGroup group = Transport.detect().newEventLoopGroup(3, "mailproxy-test-io");
        try {
            assertThat(group).hasSize(3);
            String name = group.next().submit(() -> Thread.currentThread().getName()).get(5, TimeUnit.SECONDS);
            assertThat(name).startsWith("mailproxy-test-io-");
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        }
        assertThatThrownBy(() -> Transport.nio().newEventLoopGroup(-1, "x"))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
