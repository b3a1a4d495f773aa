package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.testkit.FakeIdentityPlatform;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The two ends of a token's life, end to end against the real Dovecot with XOAUTH2 (tokens from testkit's identity
 * platform, 45 s long here instead of Office 365's 60 to 90 minutes):
 * <ul>
 *   <li>an access token expiring while a client sits in IMAP IDLE: at expiry the test ends every Dovecot session
 *   still logged in with it, as Office 365 does ({@code * BYE Session invalidated - AccessTokenExpired}). The proxy
 *   must have moved the session to a fresh connection before that; the client sees nothing but the mail that
 *   arrives.</li>
 *   <li>a refresh token revoked (AADSTS50173, as after a password change): once the access token it gave runs out,
 *   each protocol's "upstream down" error and a log line saying what to do; then {@code mailproxy login} (the real
 *   command line, device-code flow, talking to the running daemon) and the same daemon serves again.</li>
 * </ul>
 */
@ExtendWith(Interop.Extension.class)
class TokenLifetimeIT {

    static final String IDLE = Interop.IDLE_USER;
    static final String DELEGATED = Interop.DELEGATED_USER;

    Interop env;
    Proxy proxy;
    FakeIdentityPlatform platform;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        this.platform = env.identity.shortLived;
    }

    @Test
    void anAccessTokenExpiringDuringIdleIsInvisibleToTheClient() throws Exception {
        env.clear(IDLE);
        byte[] first = Messages.message(IDLE, IDLE, "before idle", 2_000, 101);
        byte[] during = Messages.message(IDLE, IDLE, "on the first connection", 3_000, 102);
        byte[] after = Messages.message(IDLE, IDLE, "after the move", 40_000, 103);
        try (UpstreamMailbox m = env.mailbox(IDLE)) {
            m.append("INBOX", first);
        }
        long mark = env.logs.mark();
        String client = Proxy.client(IDLE);
        Instant expiry;
        try (Wire w = idleAccountSession(client)) {
            // the token Dovecot accepted for this session's upstream connection
            expiry = env.identity.lastAcceptedExpiry(IDLE).orElseThrow();
            w.send("b SELECT INBOX");
            assertThat(w.until("b ")).contains("* 1 EXISTS").contains("b OK");
            List<ProcessHandle> firstConnection = env.dovecot.imapSessions(IDLE);
            assertThat(firstConnection).as("Dovecot sessions of " + IDLE).isNotEmpty();

            w.send("c IDLE");
            assertThat(w.line()).startsWith("+");
            Lines lines = new Lines(w);
            try (UpstreamMailbox m = env.mailbox(IDLE)) {
                m.append("INBOX", during);
            }
            lines.await("* 2 EXISTS on the first connection", l -> l.equals("* 2 EXISTS"), Duration.ofSeconds(20));

            Instant expired = expiry.plusSeconds(1);
            // Office 365 ends a session when its token expires: by then the proxy must have left this connection
            await("the first connection's token expired").atMost(Duration.ofSeconds(60))
                    .pollInterval(Duration.ofMillis(200)).until(() -> Instant.now().isAfter(expired));
            List<ProcessHandle> stillThere = firstConnection.stream().filter(ProcessHandle::isAlive).toList();
            stillThere.forEach(ProcessHandle::destroy); // SIGTERM: Dovecot says * BYE and closes, as Office 365 would
            assertThat(stillThere).as("Dovecot sessions still logged in with the expired token (the proxy did not "
                    + "move the session in time)").isEmpty();
            List<ProcessHandle> now = env.dovecot.imapSessions(IDLE);
            assertThat(now).as("the session's new upstream connection").hasSize(1).doesNotContainAnyElementsOf(
                    firstConnection);

            // the client is still in IDLE, now on the new connection: new mail reaches it
            try (UpstreamMailbox m = env.mailbox(IDLE)) {
                m.append("INBOX", after);
            }
            lines.await("* 3 EXISTS on the new connection", l -> l.equals("* 3 EXISTS"), Duration.ofSeconds(20));
            w.send("DONE");
            lines.await("IDLE completes", l -> l.startsWith("c "), Duration.ofSeconds(20));
            w.send("d FETCH 1:3 (RFC822.SIZE)");
            lines.await("FETCH completes", l -> l.startsWith("d "), Duration.ofSeconds(20));
            w.send("e LOGOUT");
            lines.await("LOGOUT completes", l -> l.startsWith("e "), Duration.ofSeconds(20));

            List<String> seen = lines.all();
            assertThat(seen).as("the IDLE ended OK").anyMatch(l -> l.startsWith("c OK"));
            assertThat(seen).as("FETCH OK").anyMatch(l -> l.startsWith("d OK"));
            assertThat(seen).as("sizes of all three messages").contains(
                    "* 1 FETCH (RFC822.SIZE " + first.length + ")",
                    "* 2 FETCH (RFC822.SIZE " + during.length + ")",
                    "* 3 FETCH (RFC822.SIZE " + after.length + ")");
            List<String> beforeLogout = seen.subList(0, seen.indexOf(seen.stream()
                    .filter(l -> l.startsWith("d OK")).findFirst().orElseThrow()) + 1);
            assertThat(beforeLogout).as("no error, no BYE, no expunge while the session moved")
                    .noneMatch(l -> l.startsWith("* BYE") || l.contains(" NO") || l.contains(" BAD")
                            || l.endsWith("EXPUNGE"));
        }
        assertThat(env.identity.lastAcceptedExpiry(IDLE).orElseThrow()).as("the new connection's token")
                .isAfter(expiry);
        env.assertLogged(mark, "(?i)token expires soon: moving the session to a fresh connection");
        env.assertLogged(mark, "(?i)session moved to a fresh upstream connection");
        // and the message that arrived after the move is the one stored
        Proc.Result r = CurlIT.curl(proxy.imapUrl(client) + "/INBOX;UID=3");
        assertThat(r.exit()).as(r.describe()).isZero();
        Exact.assertSameBytes("fetched after the move", r.stdout(), after);
    }

    @Test
    void aRevokedRefreshTokenIsReportedThenMailproxyLoginHealsTheSameDaemon() throws Exception {
        env.clear(DELEGATED);
        byte[] msg = Messages.message(DELEGATED, DELEGATED, "delegated", 20_000, 104);
        try (UpstreamMailbox m = env.mailbox(DELEGATED)) {
            m.append("INBOX", msg);
        }
        String client = Proxy.client(DELEGATED);
        login();
        Proc.Result ok = CurlIT.curl(proxy.imapUrl(client) + "/INBOX;UID=1");
        assertThat(ok.exit()).as(ok.describe()).isZero();
        Exact.assertSameBytes("fetched with the delegated token", ok.stdout(), msg);

        long mark = env.logs.mark();
        platform.revokeRefreshTokens(DELEGATED);
        // the access token already issued stays good until it expires (as at Microsoft); then the refresh fails
        await("IMAP login refused once the last access token ran out").atMost(Duration.ofSeconds(90))
                .pollInterval(Duration.ofSeconds(2))
                .until(() -> imapLogin(client).contains("a NO [UNAVAILABLE]"));
        assertThat(pop3Login(client)).startsWith("-ERR [SYS/TEMP]");
        assertThat(smtpMail(client)).matches("(451 4\\.4\\.1|454 4\\.7\\.0) .*");
        env.assertLogged(mark, "(?i)AADSTS50173|revoked|invalid_grant");
        env.assertLogged(mark, "mailproxy login");

        login(); // an administrator signs in again; no restart
        await("IMAP login after mailproxy login").atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(500))
                .until(() -> imapLogin(client).contains("a OK"));
        Proc.Result healed = CurlIT.curl(proxy.imapUrl(client) + "/INBOX;UID=1");
        assertThat(healed.exit()).as(healed.describe()).isZero();
        Exact.assertSameBytes("fetched after mailproxy login", healed.stdout(), msg);
        assertThat(pop3Login(client)).startsWith("+OK");
    }

    /**
     * A logged-in session of {@link #IDLE} whose upstream token has most of its life left. The proxy may hold a token
     * from an earlier session or from its start (the token service hands out a cached one until its last fifth):
     * then log out, let that token age to its last seconds, and log in again on a fresh connection with a fresh
     * token (again if the connection the pool hands out was opened, pre-warmed, with a token from a little earlier).
     */
    private Wire idleAccountSession(String client) throws IOException {
        for (int attempt = 1; ; attempt++) {
            Wire w = Wire.proxy(proxy.imapPort());
            w.socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(120));
            assertThat(w.line()).startsWith("* OK");
            w.send("a LOGIN " + client + " " + Proxy.secret(client));
            assertThat(w.until("a ")).contains("a OK");
            Instant expiry = env.identity.lastAcceptedExpiry(IDLE).orElseThrow();
            // a fresh connection may still carry a token the pool's pre-warm fetched a little earlier (seen under
            // load: 26 s left at login): then wait for that one's end too, a bounded number of times
            if (expiry.isAfter(Instant.now().plus(IdentityStub.SHORT_LIFETIME).minusSeconds(10)) || attempt == 4) {
                assertThat(expiry).as("the upstream token's expiry").isAfter(Instant.now().plusSeconds(30));
                return w;
            }
            w.send("z LOGOUT");
            w.until("z ");
            w.close();
            // well into its last fifth (9 s here): neither the pool (its idle connection) nor the token service
            // (its cached token) hands it out any more
            await("the cached token near its end").atMost(IdentityStub.SHORT_LIFETIME)
                    .pollInterval(Duration.ofMillis(200))
                    .until(() -> Instant.now().isAfter(expiry.minusSeconds(3)));
        }
    }

    /**
     * {@code mailproxy login delegated@… --config FILE} in a process of its own, as an administrator runs it: it
     * finds the running daemon's control socket and hands it the refresh token; the "user" approves the device code.
     */
    private void login() throws Exception {
        Optional<String> previous = platform.lastUserCode();
        Path out = Files.createTempFile(env.scratch, "login", ".out");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "io.mailproxy.daemon.Main",
                "login", DELEGATED, "--config", proxy.configFile.toString())
                .redirectErrorStream(true).redirectOutput(out.toFile()).start();
        try {
            String code = await("the device code").atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100))
                    .until(platform::lastUserCode, c -> c.isPresent() && !c.equals(previous)).orElseThrow();
            platform.approveDeviceCode(code, DELEGATED);
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("mailproxy login finished").isTrue();
            String output = Files.readString(out, StandardCharsets.UTF_8);
            assertThat(p.exitValue()).as(output).isZero();
            assertThat(output).contains(code).contains("Signed in").contains("running daemon");
        } finally {
            p.destroyForcibly();
        }
    }

    private String imapLogin(String client) throws IOException {
        return Logins.imap(proxy, client);
    }

    private String pop3Login(String client) throws IOException {
        return Logins.pop3(proxy, client);
    }

    private String smtpMail(String client) throws IOException {
        return Logins.smtpMail(proxy, client, DELEGATED);
    }

    /** Every line the server sends from now on, read by a thread of its own so the test can wait for time to pass. */
    private static final class Lines {
        private final BlockingQueue<String> queue = new LinkedBlockingQueue<>();
        private final List<String> all = new ArrayList<>();

        Lines(Wire w) {
            Thread t = new Thread(() -> {
                try {
                    for (String l = w.line(); l != null; l = w.line()) {
                        queue.add(l);
                    }
                } catch (IOException closed) {
                    // the test closes the socket
                }
                queue.add("<<closed>>");
            }, "idle-reader");
            t.setDaemon(true);
            t.start();
        }

        void await(String what, Predicate<String> until, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                String l = queue.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (l == null) {
                    throw new AssertionError("timed out waiting for " + what + "; lines so far: " + all);
                }
                all.add(l);
                if (l.equals("<<closed>>")) {
                    throw new AssertionError("connection closed waiting for " + what + "; lines: " + all);
                }
                if (until.test(l)) {
                    return;
                }
            }
        }

        List<String> all() {
            return List.copyOf(all);
        }
    }
}
