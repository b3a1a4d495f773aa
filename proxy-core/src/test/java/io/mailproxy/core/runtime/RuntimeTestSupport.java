package io.mailproxy.core.runtime;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * What the tests of real listeners share: one event loop group per test class, the runtimes and clients a test
 * opened (closed after it), its meters and its captured log.
 */
abstract class RuntimeTestSupport {

    static final Transport TRANSPORT = Transport.detect();
    static EventLoopGroup workers;

    final List<ServerRuntime> runtimes = new ArrayList<>();
    final List<LineClient> clients = new ArrayList<>();
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final LogCapture logs = new LogCapture();

    @BeforeAll
    static void startWorkers() {
        workers = TRANSPORT.newEventLoopGroup(2, "test-io");
    }

    @AfterAll
    static void stopWorkers() {
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void stopRuntimesAndClients() {
        clients.forEach(LineClient::close);
        runtimes.forEach(r -> r.shutdown(Duration.ofSeconds(2)));
        logs.close();
    }
}
