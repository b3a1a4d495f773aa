package io.mailproxy.core.identity;

import io.mailproxy.testkit.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AdminConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.MailproxyConfig;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LocalIdentitiesTest {

    static final InetSocketAddress REMOTE = new InetSocketAddress("127.0.0.1", 40000);
    static final AccountConfig ACCOUNT = new AccountConfig("a@contoso.com", "a@contoso.com", "o365",
            new AuthConfig.OAuth2("contoso", AuthConfig.Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(),
                    Optional.empty()), "a@contoso.com", Map.of());

    static final InetSocketAddress ATTACKER = new InetSocketAddress("192.0.2.66", 40000);
    static final InetSocketAddress APP_HOST = new InetSocketAddress("192.0.2.10", 40001);
    static final Duration DELAY = LimitsConfig.DEFAULT_LOGIN_FAILURE_DELAY;

    final MutableClock clock = new MutableClock();
    final ManualScheduler scheduler = new ManualScheduler(clock);
    final SimpleMeterRegistry meters = new SimpleMeterRegistry();
    final AtomicReference<MailproxyConfig> config = new AtomicReference<>();
    final AtomicInteger argon2Runs = new AtomicInteger();
    final List<String> argon2Threads = new CopyOnWriteArrayList<>();
    final List<String> argon2Hashes = new CopyOnWriteArrayList<>();
    volatile CountDownLatch gate = new CountDownLatch(0);
    LocalIdentities identities;

    /** A cheap hash (64 KiB, 1 pass) so tests stay fast; verification honours its parameters. */
    static String cheapHash(String password, String salt) {
        PasswordHasher.Phc params = new PasswordHasher.Phc(64, 1, 1, salt.getBytes(StandardCharsets.US_ASCII),
                new byte[32]);
        byte[] tag = PasswordHasher.argon2(password.getBytes(StandardCharsets.UTF_8), params);
        return new PasswordHasher.Phc(64, 1, 1, params.salt(), tag).format();
    }

    static ClientConfig client(String login, Optional<String> hash, String account, Protocol... protocols) {
        return new ClientConfig(login, hash, account, Set.of(protocols), ClientConfig.ImapPolicy.DEFAULT,
                ClientConfig.Pop3Policy.DEFAULT, ClientConfig.SmtpPolicy.DEFAULT);
    }

    static MailproxyConfig config(ClientConfig... clients) {
        Map<String, ClientConfig> byLogin = new java.util.HashMap<>();
        for (ClientConfig c : clients) {
            byLogin.put(c.login(), c);
        }
        return new MailproxyConfig("test", Path.of("state"), List.of(), Map.of(), Map.of(),
                Map.of(ACCOUNT.name(), ACCOUNT), byLogin, new AdminConfig(false, "127.0.0.1", 0),
                new LimitsConfig(10, 10, Duration.ofSeconds(1), 2), ConfigFactory.empty());
    }

    final String appHash = cheapHash("s3cret", "saltsalt");

    LocalIdentities identities(int concurrency) {
        config.compareAndSet(null, config(
                client("app", Optional.of(appHash), "a@contoso.com", Protocol.IMAP, Protocol.SMTP),
                client("smtp-only", Optional.of(cheapHash("pw", "saltsal2")), "a@contoso.com", Protocol.SMTP),
                client("orphan", Optional.of(cheapHash("pw", "saltsal3")), "gone@contoso.com", Protocol.IMAP),
                client("scanner", Optional.empty(), "a@contoso.com", Protocol.SMTP)));
        identities = new LocalIdentities(config::get, clock, concurrency, scheduler, meters, (password, phc) -> {
            argon2Runs.incrementAndGet();
            argon2Threads.add(Thread.currentThread().getName());
            argon2Hashes.add(phc);
            try {
                gate.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return PasswordHasher.verify(password, phc);
        });
        return identities;
    }

    @AfterEach
    void close() {
        if (identities != null) {
            identities.close();
        }
    }

    /** One login from 127.0.0.1, answered: time moves on to each delayed reply (the failure delay). */
    LocalLogin login(String login, String password, Protocol protocol) throws Exception {
        return answer(submit(login, password, protocol, REMOTE));
    }

    CompletableFuture<LocalLogin> submit(String login, String password, Protocol protocol, InetSocketAddress from) {
        return identities.authenticate(login, password.getBytes(StandardCharsets.UTF_8), protocol, from);
    }

    /** Runs the scheduler (moving the clock) until {@code f} is answered. */
    LocalLogin answer(CompletableFuture<LocalLogin> f) throws Exception {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(1)).until(() -> {
            if (!f.isDone()) {
                scheduler.runNext();
            }
            return f.isDone();
        });
        return f.get();
    }

    /** Waits until {@code f} is answered or has its delayed reply scheduled (the password check, if any, is over). */
    void decided(CompletableFuture<LocalLogin> f, long scheduledBefore) {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(1))
                .until(() -> f.isDone() || scheduler.scheduled() > scheduledBefore);
    }

    /** Submits and waits until decided, without moving time. */
    CompletableFuture<LocalLogin> attempt(String login, String password, InetSocketAddress from) {
        long before = scheduler.scheduled();
        CompletableFuture<LocalLogin> f = submit(login, password, Protocol.IMAP, from);
        decided(f, before);
        return f;
    }

    double counted(String protocol, String outcome) {
        var c = meters.find("mailproxy.local.logins").tag("protocol", protocol).tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void correctPasswordIsAcceptedWithClientAndAccount() throws Exception {
        identities(2);
        LocalLogin result = login("app", "s3cret", Protocol.IMAP);
        assertThat(result).isEqualTo(new LocalLogin.Accepted(config.get().clients().get("app"), ACCOUNT));
        assertThat(argon2Runs).hasValue(1);
    }

    @Test
    void argon2NeverRunsOnTheCallersThread() throws Exception {
        identities(2);
        gate = new CountDownLatch(1);
        CompletableFuture<LocalLogin> pending = identities.authenticate("app",
                "s3cret".getBytes(StandardCharsets.UTF_8), Protocol.IMAP, REMOTE);
        // the caller got its future back while Argon2 is still held at the gate
        assertThat(pending).isNotDone();
        gate.countDown();
        assertThat(pending.get(10, TimeUnit.SECONDS)).isInstanceOf(LocalLogin.Accepted.class);
        login("nobody", "x", Protocol.IMAP);
        assertThat(argon2Threads).hasSize(2).allSatisfy(name -> {
            assertThat(name).startsWith("mailproxy-argon2-");
            assertThat(name).isNotEqualTo(Thread.currentThread().getName());
        });
    }

    @Test
    void theCallerMayClearThePasswordAtOnce() throws Exception {
        identities(1);
        gate = new CountDownLatch(1);
        byte[] password = "s3cret".getBytes(StandardCharsets.UTF_8);
        CompletableFuture<LocalLogin> pending = identities.authenticate("app", password, Protocol.IMAP, REMOTE);
        Arrays.fill(password, (byte) 0);
        gate.countDown();
        assertThat(pending.get(10, TimeUnit.SECONDS)).isInstanceOf(LocalLogin.Accepted.class);
    }

    @Test
    void wrongPasswordIsRejected() throws Exception {
        identities(2);
        assertThat(login("app", "s3cre7", Protocol.IMAP)).isEqualTo(new LocalLogin.Rejected("wrong password for app"));
    }

    @Test
    void unknownLoginRunsArgon2AgainstADummyWithTheDefaultCost() throws Exception {
        identities(2);
        assertThat(login("mallory", "s3cret", Protocol.IMAP))
                .isEqualTo(new LocalLogin.Rejected("unknown login mallory"));
        assertThat(argon2Runs).hasValue(1);
        assertThat(PasswordHasher.memoryKiB(argon2Hashes.get(0))).isEqualTo(PasswordHasher.MEMORY_KIB);
        assertThat(argon2Hashes.get(0)).startsWith("$argon2id$v=19$m=19456,t=2,p=1$");
    }

    @Test
    void protocolNotInTheClientsProtocolsIsRejected() throws Exception {
        identities(2);
        assertThat(login("smtp-only", "pw", Protocol.IMAP))
                .isEqualTo(new LocalLogin.Rejected("client smtp-only may not use imap"));
        assertThat(login("smtp-only", "pw", Protocol.SMTP)).isInstanceOf(LocalLogin.Accepted.class);
    }

    @Test
    void clientWhoseAccountIsMissingIsRejected() throws Exception {
        identities(2);
        assertThat(login("orphan", "pw", Protocol.IMAP))
                .isEqualTo(new LocalLogin.Rejected("account gone@contoso.com of client orphan is missing"));
    }

    @Test
    void fixedClientHasNoPasswordToLogInWith() throws Exception {
        identities(2);
        assertThat(login("scanner", "", Protocol.SMTP)).isInstanceOf(LocalLogin.Rejected.class);
    }

    @Test
    void fixedClientsResolveWithoutAPassword() {
        identities(2);
        assertThat(identities.fixed("scanner", Protocol.SMTP))
                .isEqualTo(new LocalLogin.Accepted(config.get().clients().get("scanner"), ACCOUNT));
        assertThat(identities.fixed("scanner", Protocol.POP3))
                .isEqualTo(new LocalLogin.Rejected("client scanner may not use pop3"));
        assertThat(identities.fixed("printer", Protocol.SMTP))
                .isEqualTo(new LocalLogin.Rejected("fixed client printer is not in clients"));
        assertThat(argon2Runs).hasValue(0);
    }

    // ---- verified-login cache ----

    @Test
    void repeatedLoginIsAnsweredFromTheCacheWithoutArgon2() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.IMAP);
        long start = System.nanoTime();
        CompletableFuture<LocalLogin> again = identities.authenticate("app",
                "s3cret".getBytes(StandardCharsets.UTF_8), Protocol.SMTP, REMOTE);
        long micros = TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - start);
        assertThat(again).isDone();
        assertThat(again.get()).isInstanceOf(LocalLogin.Accepted.class);
        assertThat(argon2Runs).hasValue(1);
        assertThat(micros).as("a cache hit costs an HMAC, not an Argon2 run").isLessThan(20_000);
        // the protocol is still checked on a hit
        assertThat(login("app", "s3cret", Protocol.POP3))
                .isEqualTo(new LocalLogin.Rejected("client app may not use pop3"));
        assertThat(argon2Runs).hasValue(1);
    }

    @Test
    void aCachedLoginDoesNotLetAnotherPasswordIn() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.IMAP);
        assertThat(login("app", "s3cret ", Protocol.IMAP)).isInstanceOf(LocalLogin.Rejected.class);
        assertThat(argon2Runs).hasValue(2);
    }

    @Test
    void cachedLoginExpires() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.IMAP);
        clock.advance(LocalIdentities.VERIFIED_TTL.minusSeconds(1));
        login("app", "s3cret", Protocol.IMAP);
        assertThat(argon2Runs).hasValue(1);
        clock.advance(Duration.ofSeconds(2));
        assertThat(login("app", "s3cret", Protocol.IMAP)).isInstanceOf(LocalLogin.Accepted.class);
        assertThat(argon2Runs).hasValue(2);
    }

    @Test
    void aNewHashInTheConfigurationInvalidatesTheCachedLogin() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.IMAP);
        config.set(config(client("app", Optional.of(cheapHash("n3w", "saltsal9")), "a@contoso.com",
                Protocol.IMAP)));
        assertThat(login("app", "s3cret", Protocol.IMAP)).isEqualTo(new LocalLogin.Rejected("wrong password for app"));
        assertThat(login("app", "n3w", Protocol.IMAP)).isInstanceOf(LocalLogin.Accepted.class);
        assertThat(argon2Runs).hasValue(3);
    }

    @Test
    void aRemovedClientIsNotServedFromTheCache() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.IMAP);
        config.set(config());
        assertThat(login("app", "s3cret", Protocol.IMAP)).isEqualTo(new LocalLogin.Rejected("unknown login app"));
    }

    // ---- failure delay and penalty after failures ----

    @Test
    void aWrongPasswordIsAnsweredOnlyAfterTheFailureDelay() throws Exception {
        identities(2);
        CompletableFuture<LocalLogin> wrong = attempt("app", "guess", REMOTE);
        assertThat(wrong).as("answered at once").isNotDone();
        scheduler.advance(DELAY.minusMillis(1));
        assertThat(wrong).isNotDone();
        scheduler.advance(Duration.ofMillis(1));
        assertThat(wrong).isCompletedWithValue(new LocalLogin.Rejected("wrong password for app"));
    }

    @Test
    void pipelinedGuessesGetOnePasswordCheckPerDelayAfterTheFreeOnes() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.IMAP); // the cache is warm: the right guess must not get in faster
        int before = argon2Runs.get();
        List<CompletableFuture<LocalLogin>> all = new java.util.ArrayList<>();
        for (int second = 0; second < 5; second++) {
            List<CompletableFuture<LocalLogin>> burst = new java.util.ArrayList<>();
            long scheduled = scheduler.scheduled();
            for (int i = 0; i < 200; i++) {
                burst.add(submit("app", i == 150 ? "s3cret" : "guess" + second + "-" + i, Protocol.IMAP, REMOTE));
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> scheduler.scheduled() == scheduled + 200);
            assertThat(burst).as("no answer before the failure delay").noneMatch(CompletableFuture::isDone);
            scheduler.advance(DELAY);
            assertThat(burst).allMatch(CompletableFuture::isDone);
            assertThat(burst.get(150).get()).as("second " + second).isInstanceOf(LocalLogin.Throttled.class);
            all.addAll(burst);
        }
        assertThat(argon2Runs.get() - before).as("password checks in 5 s")
                .isEqualTo(LocalIdentities.FREE_FAILURES + 4);
        assertThat(all.stream().map(CompletableFuture::join).filter(LocalLogin.Throttled.class::isInstance).count())
                .isEqualTo(1000 - LocalIdentities.FREE_FAILURES - 4);
        assertThat(counted("imap", "throttled")).isEqualTo(1000 - LocalIdentities.FREE_FAILURES - 4);
        assertThat(counted("imap", "rejected")).isEqualTo(LocalIdentities.FREE_FAILURES + 4);
    }

    @Test
    void aRememberedPasswordIsThrottledWhileTheNameIsPenalised() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.IMAP);
        for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
            assertThat(login("app", "guess" + i, Protocol.IMAP)).isInstanceOf(LocalLogin.Rejected.class);
        }
        int runs = argon2Runs.get();
        // one check per DELAY: login() has just waited that long, so this guess takes the check
        CompletableFuture<LocalLogin> guess = attempt("app", "guess", REMOTE);
        CompletableFuture<LocalLogin> right = attempt("app", "s3cret", REMOTE);
        assertThat(right).isNotDone();
        assertThat(answer(right)).isInstanceOf(LocalLogin.Throttled.class);
        assertThat(((LocalLogin.Throttled) right.get()).reason()).contains("slowed down");
        assertThat(argon2Runs).hasValue(runs + 1);
        assertThat(guess.get()).isInstanceOf(LocalLogin.Rejected.class);
    }

    @Test
    void aCacheHitIsNeverAnsweredBeforeAWrongGuessOfTheSameName() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.IMAP);
        gate = new CountDownLatch(1);
        CompletableFuture<LocalLogin> wrong = submit("app", "guess", Protocol.IMAP, REMOTE);
        CompletableFuture<LocalLogin> right = submit("app", "s3cret", Protocol.IMAP, REMOTE);
        assertThat(right).as("a cache hit behind a pending check waits for it").isNotDone();
        long scheduled = scheduler.scheduled();
        gate.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> scheduler.scheduled() == scheduled + 2);
        assertThat(wrong).isNotDone();
        assertThat(right).isNotDone();
        List<String> order = new CopyOnWriteArrayList<>();
        wrong.thenRun(() -> order.add("wrong"));
        right.thenRun(() -> order.add("right"));
        scheduler.advance(DELAY);
        assertThat(order).containsExactly("wrong", "right");
        assertThat(right.get()).isInstanceOf(LocalLogin.Accepted.class);
        // the right password cleared the failure: the next cache hit is not delayed again
        assertThat(attempt("app", "s3cret", REMOTE)).isCompletedWithValueMatching(LocalLogin.Accepted.class::isInstance);
    }

    @Test
    void theRightClientGetsInWithinSecondsOfTheGuessesStopping() throws Exception {
        identities(2);
        // cold cache; a wrong password every 50 ms for 60 s, the app trying every 2 s
        List<LocalLogin> app = new java.util.ArrayList<>();
        List<CompletableFuture<LocalLogin>> appAttempts = new java.util.ArrayList<>();
        for (int tick = 0; tick < 1200; tick++) {
            attempt("app", "guess" + tick, REMOTE);
            if (tick % 40 == 20) {
                appAttempts.add(attempt("app", "s3cret", REMOTE));
            }
            scheduler.advance(Duration.ofMillis(50));
        }
        scheduler.advance(DELAY);
        for (CompletableFuture<LocalLogin> f : appAttempts) {
            app.add(f.get());
        }
        assertThat(argon2Runs.get()).as("password checks in 60 s").isBetween(55, 70);
        assertThat(app).as("the app is told to try later, never that its password is wrong")
                .allMatch(r -> r instanceof LocalLogin.Throttled || r instanceof LocalLogin.Accepted);
        // the attack stops: the app gets in at its first try, within a few seconds
        java.time.Instant stopped = clock.instant();
        assertThat(login("app", "s3cret", Protocol.IMAP)).isInstanceOf(LocalLogin.Accepted.class);
        assertThat(Duration.between(stopped, clock.instant())).isLessThanOrEqualTo(DELAY.multipliedBy(2));
        // and the penalty is gone: its other connections get in at once
        assertThat(attempt("app", "s3cret", REMOTE)).isCompletedWithValueMatching(LocalLogin.Accepted.class::isInstance);
    }

    @Test
    void offLoopbackThePenaltyIsPerNameAndAddress() throws Exception {
        identities(2);
        for (int i = 0; i < 10; i++) {
            answer(submit("app", "guess" + i, Protocol.IMAP, ATTACKER));
        }
        attempt("app", "guess", ATTACKER); // takes this second's check
        CompletableFuture<LocalLogin> attacker = attempt("app", "s3cret", ATTACKER);
        // the app on another host is not slowed down, and not delayed
        CompletableFuture<LocalLogin> app = attempt("app", "s3cret", APP_HOST);
        assertThat(app).isCompletedWithValueMatching(LocalLogin.Accepted.class::isInstance);
        assertThat(answer(attacker)).isInstanceOf(LocalLogin.Throttled.class);
        // on loopback, every address is the same host: 127.0.0.2 shares 127.0.0.1's penalty
        for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
            login("smtp-only", "guess", Protocol.SMTP);
        }
        attempt("smtp-only", "guess", REMOTE);
        assertThat(answer(submit("smtp-only", "pw", Protocol.SMTP, new InetSocketAddress("127.0.0.2", 1))))
                .isInstanceOf(LocalLogin.Throttled.class);
    }

    @Test
    void unknownNamesArePenalisedLikeKnownOnes() throws Exception {
        identities(2);
        for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
            assertThat(login("ghost", "guess", Protocol.IMAP)).isEqualTo(new LocalLogin.Rejected("unknown login ghost"));
        }
        attempt("ghost", "guess", REMOTE); // the one check the delay allows
        assertThat(login("ghost", "guess", Protocol.IMAP)).isInstanceOf(LocalLogin.Throttled.class);
        assertThat(argon2Runs).hasValue(LocalIdentities.FREE_FAILURES + 1);
    }

    @Test
    void anotherNameOnTheSameAddressIsNotPenalised() throws Exception {
        identities(2);
        for (int i = 0; i < 10; i++) {
            login("app", "guess", Protocol.IMAP);
        }
        CompletableFuture<LocalLogin> other = submit("smtp-only", "pw", Protocol.SMTP, REMOTE);
        decided(other, scheduler.scheduled());
        assertThat(other).as("checked and answered without a delay")
                .isCompletedWithValueMatching(LocalLogin.Accepted.class::isInstance);
    }

    @Test
    void failuresAreForgottenAfterAQuietPeriod() throws Exception {
        identities(2);
        for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
            login("app", "guess", Protocol.IMAP);
        }
        clock.advance(LocalIdentities.FAILURE_MEMORY.plusSeconds(1));
        for (int i = 0; i < LocalIdentities.FREE_FAILURES - 1; i++) {
            assertThat(attempt("app", "guess", REMOTE)).isNotDone(); // checked (not throttled), answered later
        }
        scheduler.advance(DELAY);
        assertThat(login("app", "s3cret", Protocol.IMAP)).isInstanceOf(LocalLogin.Accepted.class);
    }

    @Test
    void aPenalisedNameIsLoggedOncePerIntervalNotOncePerAttempt() throws Exception {
        ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger)
                org.slf4j.LoggerFactory.getLogger(LocalIdentities.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> appender =
                new ch.qos.logback.core.read.ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        try {
            identities(2);
            for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
                login("app", "guess" + i, Protocol.IMAP);
            }
            for (int i = 0; i < 100; i++) { // the first is this second's check, the others are slowed down
                attempt("app", "guess" + i, REMOTE);
            }
            scheduler.advance(LocalIdentities.LOG_INTERVAL);
            attempt("app", "guess", REMOTE); // the check of this second
            attempt("app", "guess", REMOTE);
        } finally {
            logger.detachAppender(appender);
        }
        assertThat(appender.list).extracting(e -> e.getFormattedMessage()).filteredOn(m -> m.contains("slowed down"))
                .containsExactly("login app is slowed down after 4 failed attempts in a row: one password check per"
                        + " 1000 ms, other attempts are answered \"try again later\" (1 since the last such line)",
                        "login app is slowed down after 5 failed attempts in a row: one password check per 1000 ms,"
                        + " other attempts are answered \"try again later\" (99 since the last such line)");
    }

    @Test
    void loginsAreCountedByProtocolAndOutcome() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.SMTP);
        login("app", "s3cret", Protocol.SMTP);
        login("app", "nope", Protocol.IMAP);
        login("smtp-only", "pw", Protocol.POP3);
        assertThat(counted("smtp", "accepted")).isEqualTo(2);
        assertThat(counted("imap", "rejected")).isEqualTo(1);
        assertThat(counted("pop3", "rejected")).isEqualTo(1);
    }

    // ---- bounded concurrency ----

    @Test
    void atMostArgon2ConcurrencyRunsAtOnce() throws Exception {
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        CountDownLatch release = new CountDownLatch(1);
        List<ClientConfig> clients = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
            clients.add(client("app" + i, Optional.of(appHash), "a@contoso.com", Protocol.IMAP));
        }
        config.set(config(clients.toArray(ClientConfig[]::new)));
        identities = new LocalIdentities(config::get, clock, 2, scheduler, meters, (password, phc) -> {
            most.accumulateAndGet(inside.incrementAndGet(), Math::max);
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            inside.decrementAndGet();
            return PasswordHasher.verify(password, phc);
        });
        List<CompletableFuture<LocalLogin>> logins = new java.util.ArrayList<>();
        for (int i = 0; i < 6; i++) {
            logins.add(identities.authenticate("app" + i, "s3cret".getBytes(StandardCharsets.UTF_8), Protocol.IMAP,
                    REMOTE));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> inside.get() == 2);
        assertThat(logins).noneMatch(CompletableFuture::isDone);
        release.countDown();
        for (CompletableFuture<LocalLogin> f : logins) {
            assertThat(f.get(10, TimeUnit.SECONDS)).isInstanceOf(LocalLogin.Accepted.class);
        }
        assertThat(most).hasValue(2);
    }

    @Test
    void parallelLoginsOfOneAppCostOneArgon2Run() throws Exception {
        identities(4);
        gate = new CountDownLatch(1);
        List<CompletableFuture<LocalLogin>> logins = new java.util.ArrayList<>();
        for (int i = 0; i < 8; i++) {
            logins.add(identities.authenticate("app", "s3cret".getBytes(StandardCharsets.UTF_8), Protocol.IMAP,
                    REMOTE));
        }
        gate.countDown();
        for (CompletableFuture<LocalLogin> f : logins) {
            assertThat(f.get(10, TimeUnit.SECONDS)).isInstanceOf(LocalLogin.Accepted.class);
        }
        assertThat(argon2Runs).hasValue(1);
    }

    @Test
    void aBurstOfParallelGuessesGetsNoMoreTriesThanASequence() throws Exception {
        identities(4);
        gate = new CountDownLatch(1);
        long scheduledBefore = scheduler.scheduled();
        List<CompletableFuture<LocalLogin>> guesses = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
            guesses.add(identities.authenticate("app", ("guess" + i).getBytes(StandardCharsets.UTF_8),
                    Protocol.IMAP, REMOTE));
        }
        gate.countDown();
        // every guess decided (each failure and each slowed-down attempt has its delayed reply scheduled) before
        // time moves: answering the first ones moves the clock past the delay, which rightly allows one more check
        // to a guess still waiting then (seen under load as 4 checks)
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(1))
                .until(() -> scheduler.scheduled() - scheduledBefore >= guesses.size());
        for (CompletableFuture<LocalLogin> f : guesses) {
            assertThat(answer(f)).isInstanceOfAny(LocalLogin.Rejected.class, LocalLogin.Throttled.class);
        }
        assertThat(argon2Runs).hasValue(LocalIdentities.FREE_FAILURES);
    }

    @Test
    void realArgon2EndToEnd() throws Exception {
        String phc = PasswordHasher.hash("hunter2".getBytes(StandardCharsets.UTF_8));
        config.set(config(client("app", Optional.of(phc), "a@contoso.com", Protocol.SMTP)));
        identities = new LocalIdentities(config::get, clock, 1, scheduler, meters);
        assertThat(identities.authenticate("app", "hunter2".getBytes(StandardCharsets.UTF_8), Protocol.SMTP, REMOTE)
                .get(10, TimeUnit.SECONDS)).isInstanceOf(LocalLogin.Accepted.class);
        assertThat(answer(identities.authenticate("app", "hunter3".getBytes(StandardCharsets.UTF_8), Protocol.SMTP,
                REMOTE))).isInstanceOf(LocalLogin.Rejected.class);
    }
}
