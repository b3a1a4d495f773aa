package io.mailproxy.core.runtime;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.function.Supplier;

/**
 * The Netty transport: native epoll where it is available (Linux with the bundled natives), Java NIO otherwise.
 * Listeners and upstream connections use the same transport and share one worker group, so a relay's two channels
 * can live on the same event loop.
 */
public final class Transport {

    private final String name;
    private final Supplier<IoHandlerFactory> ioHandlers;
    private final Class<? extends ServerChannel> serverChannelClass;
    private final Class<? extends SocketChannel> socketChannelClass;

    private Transport(String name, Supplier<IoHandlerFactory> ioHandlers,
                      Class<? extends ServerChannel> serverChannelClass,
                      Class<? extends SocketChannel> socketChannelClass) {
        this.name = name;
        this.ioHandlers = ioHandlers;
        this.serverChannelClass = serverChannelClass;
        this.socketChannelClass = socketChannelClass;
    }

    /** Epoll when {@link Epoll#isAvailable()}, else NIO. */
    public static Transport detect() {
        return Epoll.isAvailable() ? epoll() : nio();
    }

    /** Java NIO, available everywhere. */
    public static Transport nio() {
        return new Transport("nio", NioIoHandler::newFactory, NioServerSocketChannel.class, NioSocketChannel.class);
    }

    /**
     * Native epoll.
     *
     * @throws IllegalStateException when the native library cannot be loaded here, with Netty's reason
     */
    public static Transport epoll() {
        if (!Epoll.isAvailable()) {
            throw new IllegalStateException("native epoll transport is not available: " + Epoll.unavailabilityCause(),
                    Epoll.unavailabilityCause());
        }
        return new Transport("epoll", EpollIoHandler::newFactory, EpollServerSocketChannel.class,
                EpollSocketChannel.class);
    }

    /**
     * A new event loop group of this transport. The caller owns it and shuts it down.
     *
     * @param threads          number of event loops; 0 means Netty's default (twice the number of cores)
     * @param threadNamePrefix thread names start with this, e.g. "mailproxy-io"
     */
    public EventLoopGroup newEventLoopGroup(int threads, String threadNamePrefix) {
        if (threads < 0) {
            throw new IllegalArgumentException("threads must be 0 (default) or more: " + threads);
        }
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(threadNamePrefix, false),
                ioHandlers.get());
    }

    /** For {@code ServerBootstrap.channel(...)}. */
    public Class<? extends ServerChannel> serverChannelClass() {
        return serverChannelClass;
    }

    /** For {@code Bootstrap.channel(...)}: upstream connections. */
    public Class<? extends SocketChannel> socketChannelClass() {
        return socketChannelClass;
    }

    /** "epoll" or "nio". */
    public String name() {
        return name;
    }

    @Override
    public String toString() {
        return name;
    }
}
