package io.mailproxy.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A start that fails half-way (a port in use) releases everything it had opened: listeners, event loops, executors,
 * frontends, the control socket and the state-dir lock. A caller that catches the failure can start again at once.
 */
class DaemonStartFailureTest {

    private static final Map<String, String> ENV =
            Map.of("MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(new byte[32]));
    /** Threads of the JVM or of libraries that outlive any one daemon by design. */
    private static final List<String> SHARED_THREADS = List.of("ForkJoinPool.commonPool", "globalEventExecutor",
            "Common-Cleaner", "awaitility", "process reaper", "Attach Listener", "ObjectCleanerThread", "Signal Dispatcher");

    @TempDir
    Path dir;

    private MailproxyConfig config(int imapPort, int smtpPort, int adminPort) {
        return ConfigLoader.parse("""
                mailproxy {
                  state-dir = "%s"
                  listeners = [
                    { protocol = imap, bind = "127.0.0.1", port = %d }
                    { protocol = smtp, bind = "127.0.0.1", port = %d }
                  ]
                  upstreams.fake { imap = "imaps://127.0.0.1:9", smtp = "smtp+starttls://127.0.0.1:9" }
                  accounts."box@example.test" {
                    upstream = fake
                    auth { type = password, password = "secret:not-yet-stored" }
                  }
                  admin { bind = "127.0.0.1", port = %d }
                }
                """.formatted(dir.resolve("state"), imapPort, smtpPort, adminPort), "test");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    private static ServerSocket taken() throws IOException {
        ServerSocket s = new ServerSocket();
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return s;
    }

    private static Set<Thread> liveThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).collect(Collectors.toSet());
    }

    /**
     * Threads started since {@code before} that are still alive and are not the JVM's or a library's own, nor a
     * lazily started member of a thread pool that already existed then (an event loop group starts its threads one by
     * one as work comes: "mailproxy-io-16-1" of a daemon still running, whose pool 16 was created before, even when
     * none of its threads had started yet). Netty numbers its thread pools in creation order, so a pool whose number
     * is below {@link #nextPoolId()} taken with {@code before} is not the refused daemon's.
     */
    private static List<String> leftOver(Set<Thread> before, int firstNewPool) {
        Set<String> runningPools = before.stream().map(t -> pool(t.getName())).collect(Collectors.toSet());
        return liveThreads().stream().filter(t -> !before.contains(t))
                .map(Thread::getName)
                .filter(n -> SHARED_THREADS.stream().noneMatch(n::startsWith))
                .filter(n -> !runningPools.contains(pool(n)))
                .filter(n -> poolId(n) < 0 || poolId(n) >= firstNewPool)
                .sorted().toList();
    }

    /** The number the next Netty thread pool will get ("probe-42-0" → 42); later pools get higher ones. */
    private static int nextPoolId() {
        String name = new io.netty.util.concurrent.DefaultThreadFactory("probe").newThread(() -> { }).getName();
        return poolId(name);
    }

    /** A Netty pool thread's pool number ("mailproxy-io-16-1" → 16), or -1 for a thread not named that way. */
    private static int poolId(String threadName) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("-(\\d+)-\\d+$").matcher(threadName);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** A pool thread's name without its index ("mailproxy-io-16-1" → "mailproxy-io-16"). */
    private static String pool(String threadName) {
        return threadName.replaceFirst("-\\d+$", "");
    }

    private void assertReleased(Set<Thread> before, int firstNewPool, int... ports) throws IOException {
        for (int port : ports) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port)); // free again
            }
        }
        Path state = dir.resolve("state");
        try (FileChannel ch = FileChannel.open(state.resolve("daemon.lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE); FileLock lock = ch.tryLock()) {
            assertThat(lock).as("state-dir lock").isNotNull();
        }
        assertThat(state.resolve("control.sock")).doesNotExist();
        await().atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> assertThat(leftOver(before, firstNewPool)).isEmpty());
    }

    @Test
    void aListenerPortInUseReleasesTheListenersAlreadyBoundAndEverythingElse() throws Exception {
        int first = freePort();
        int admin = freePort();
        Set<Thread> before = liveThreads();
        int firstNewPool = nextPoolId();
        try (ServerSocket busy = taken()) {
            MailproxyConfig config = config(first, busy.getLocalPort(), admin);

            assertThatThrownBy(() -> Daemon.start(config, ENV))
                    .hasMessageContaining("cannot listen on 127.0.0.1:" + busy.getLocalPort());

            assertReleased(before, firstNewPool, first, admin);
        }
        // and a daemon starts again on the same state-dir and ports
        try (Daemon again = Daemon.start(config(first, freePort(), admin), ENV)) {
            assertThat(again.boundAddresses()).hasSize(2);
        }
    }

    @Test
    void anAdminPortInUseReleasesTheListenersThatWereAlreadyServing() throws Exception {
        int imap = freePort();
        int smtp = freePort();
        Set<Thread> before = liveThreads();
        int firstNewPool = nextPoolId();
        try (ServerSocket busy = taken()) {
            MailproxyConfig config = config(imap, smtp, busy.getLocalPort());

            assertThatThrownBy(() -> Daemon.start(config, ENV)).hasMessageContaining(
                    String.valueOf(busy.getLocalPort()));

            assertReleased(before, firstNewPool, imap, smtp);
        }
        try (Daemon again = Daemon.start(config(imap, smtp, freePort()), ENV)) {
            assertThat(again.boundAddresses()).hasSize(2);
        }
    }

    @Test
    void aSecondDaemonRefusedByTheLockLeavesTheFirstUntouchedAndLeaksNothing() throws Exception {
        MailproxyConfig config = config(0, 0, 0);
        try (Daemon first = Daemon.start(config, ENV)) {
            Set<Thread> before = liveThreads();
            int firstNewPool = nextPoolId();
            assertThatThrownBy(() -> Daemon.start(config, ENV)).hasMessageContaining("already running");
            await().atMost(Duration.ofSeconds(10))
                .untilAsserted(() -> assertThat(leftOver(before, firstNewPool)).isEmpty());
            assertThat(first.boundAddresses()).hasSize(2);
            assertThat(Files.exists(dir.resolve("state").resolve("control.sock"))).isTrue();
        }
    }
}
