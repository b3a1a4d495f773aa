package io.mailproxy.imap;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AdminConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.identity.LocalIdentities;
import io.mailproxy.core.identity.PasswordHasher;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.core.FakeListener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 13's password-guessing attack through real sockets, against the IMAP frontend and core's real
 * {@link LocalIdentities} (real Argon2, real clock, default limits: 1 s failure delay, 3 failures per connection).
 * Password checks are counted by {@code mailproxy.local.logins}: every wrong guess that was checked is "rejected";
 * guesses answered without a check are "throttled".
 */
class LoginAttackTest {

    private static final String LOGIN = "app";
    private static final String PASSWORD = "s3cret";

    private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    private ScheduledExecutorService timer;
    private LocalIdentities identities;
    private EventLoopGroup group;
    private Channel server;
    private int port;

    @BeforeEach
    void start() throws Exception {
        FakeCore core = new FakeCore().withClock(FakeCore.FIXED_CLOCK);
        ClientConfig client = new ClientConfig(LOGIN, Optional.of(PasswordHasher.hash(PASSWORD.getBytes(
                StandardCharsets.UTF_8))), FakeCore.ACCOUNT.name(), Set.of(Protocol.IMAP),
                ClientConfig.ImapPolicy.DEFAULT, ClientConfig.Pop3Policy.DEFAULT, ClientConfig.SmtpPolicy.DEFAULT);
        MailproxyConfig config = new MailproxyConfig("test", Path.of("state"), List.of(), Map.of(), Map.of(),
                Map.of(FakeCore.ACCOUNT.name(), FakeCore.ACCOUNT), Map.of(LOGIN, client),
                new AdminConfig(false, "127.0.0.1", 0), new LimitsConfig(100, 100, Duration.ofSeconds(1), 2),
                ConfigFactory.empty());
        timer = Executors.newSingleThreadScheduledExecutor();
        identities = new LocalIdentities(() -> config, Clock.systemUTC(), 2, Scheduler.of(timer), meters);
        core.withAuthenticator(identities);
        // a right password gets as far as the upstream, which is down: NO [UNAVAILABLE] The mail server ...
        core.withPools((account, protocol) -> CompletableFuture.failedFuture(
                new UpstreamException(UpstreamException.Kind.UNREACHABLE, "no upstream in this test")));
        ImapFrontend frontend = new ImapFrontend(core);
        FakeListener listener = new FakeListener(io.mailproxy.core.Protocol.IMAP);
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        frontend.initChannel(ch, listener);
                    }
                }).bind("127.0.0.1", 0).sync().channel();
        port = ((InetSocketAddress) server.localAddress()).getPort();
    }

    @AfterEach
    void stop() throws Exception {
        server.close().sync();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        identities.close();
        timer.shutdownNow();
    }

    private double counted(String outcome) {
        Counter c = meters.find("mailproxy.local.logins").tag("protocol", "imap").tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    /** Sends {@code commands} in one write and returns every line read until the server closes (or 15 s pass). */
    private List<String> session(String commands) throws IOException {
        List<String> lines = new ArrayList<>();
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(15_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            lines.add(in.readLine());
            OutputStream out = s.getOutputStream();
            out.write(commands.getBytes(StandardCharsets.UTF_8));
            out.flush();
            try {
                for (String line; (line = in.readLine()) != null; ) {
                    lines.add(line);
                }
            } catch (SocketException e) {
                // the server closed with our unread guesses in its buffer: a reset after its last reply
            }
        }
        return lines;
    }

    @Test
    void fiveThousandPipelinedGuessesOnOneConnectionGetThreeTries() throws Exception {
        // the app has logged in: its password is in the verified-login cache
        assertThat(session("a1 LOGIN " + LOGIN + " " + PASSWORD + "\r\na2 LOGOUT\r\n"))
                .anyMatch(l -> l.startsWith("a1 NO [UNAVAILABLE] The mail server is not available"));
        StringBuilder guesses = new StringBuilder();
        for (int i = 1; i <= 5000; i++) {
            guesses.append('g').append(i).append(" LOGIN ").append(LOGIN).append(' ')
                    .append(i == 2600 ? PASSWORD : "guess" + i).append("\r\n");
        }
        long start = System.nanoTime();
        List<String> replies = session(guesses.toString());
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(replies.subList(1, replies.size())).containsExactly(
                "g1 NO [AUTHENTICATIONFAILED] Authentication failed.",
                "g2 NO [AUTHENTICATIONFAILED] Authentication failed.",
                "g3 NO [AUTHENTICATIONFAILED] Authentication failed.",
                "* BYE Too many failed logins");
        assertThat(took).as("each failure waits for the failure delay").isGreaterThanOrEqualTo(Duration.ofSeconds(3));
        assertThat(counted("rejected")).isEqualTo(3);
    }

    @Test
    void guessesOnManyConnectionsGetAboutOnePasswordCheckASecond() throws Exception {
        int seconds = 6;
        AtomicBoolean attacking = new AtomicBoolean(true);
        List<String> attackerReplies = java.util.Collections.synchronizedList(new ArrayList<>());
        List<CompletableFuture<Void>> attackers = new ArrayList<>();
        for (int c = 0; c < 16; c++) {
            int id = c;
            attackers.add(CompletableFuture.runAsync(() -> {
                int n = 0;
                while (attacking.get()) {
                    StringBuilder guesses = new StringBuilder();
                    for (int i = 0; i < 50; i++, n++) {
                        guesses.append("c").append(id).append('-').append(n).append(" LOGIN ").append(LOGIN)
                                .append(" guess").append(id).append('-').append(n).append("\r\n");
                    }
                    try {
                        attackerReplies.addAll(session(guesses.toString()));
                    } catch (IOException e) {
                        throw new CompletionException(e);
                    }
                }
            }, Executors.newSingleThreadExecutor()));
        }
        long start = System.nanoTime();
        Thread.sleep(seconds * 1000L); // the attack runs in real time: the proxy's own clock is the subject
        attacking.set(false);
        CompletableFuture.allOf(attackers.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        double elapsed = (System.nanoTime() - start) / 1e9;
        double checks = counted("rejected");
        assertThat(checks).as("password checks in %.1f s", elapsed).isLessThanOrEqualTo(3 + elapsed + 1);
        assertThat(counted("throttled")).as("guesses answered without a check").isGreaterThan(checks);
        assertThat(attackerReplies).filteredOn(l -> l.contains(" NO ")).allMatch(l ->
                l.endsWith("NO [AUTHENTICATIONFAILED] Authentication failed.")
                || l.endsWith("NO [UNAVAILABLE] Login slowed down after repeated failures, try again later"));

        // the attack has stopped: the right client (same address, same name) gets in within a few seconds
        long recovery = System.nanoTime();
        List<String> app = session("a1 LOGIN " + LOGIN + " " + PASSWORD + "\r\na2 LOGOUT\r\n");
        assertThat(app).anyMatch(l -> l.startsWith("a1 NO [UNAVAILABLE] The mail server is not available"));
        assertThat(Duration.ofNanos(System.nanoTime() - recovery)).isLessThan(Duration.ofSeconds(3));
    }
}
