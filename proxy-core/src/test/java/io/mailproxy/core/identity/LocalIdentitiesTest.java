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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LocalIdentitiesTest {

    static final InetSocketAddress REMOTE = new InetSocketAddress("127.0.0.1", 40000);
    static final AccountConfig ACCOUNT = new AccountConfig("a@contoso.com", "a@contoso.com", "o365",
            new AuthConfig.OAuth2("contoso", AuthConfig.Grant.CLIENT_CREDENTIALS, Optional.empty(), Optional.empty(),
                    Optional.empty()), "a@contoso.com", Map.of());

    final MutableClock clock = new MutableClock();
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
        identities = new LocalIdentities(config::get, clock, concurrency, (password, phc) -> {
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

    LocalLogin login(String login, String password, Protocol protocol) throws Exception {
        return identities.authenticate(login, password.getBytes(StandardCharsets.UTF_8), protocol, REMOTE)
                .get(10, TimeUnit.SECONDS);
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

    // ---- slow-down after failures ----

    @Test
    void failuresSlowTheLoginNameDown() throws Exception {
        identities(2);
        for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
            assertThat(login("app", "guess" + i, Protocol.IMAP)).isEqualTo(
                    new LocalLogin.Rejected("wrong password for app"));
        }
        assertThat(argon2Runs).hasValue(5);

        // even the right password waits: refused at once, no Argon2 run
        CompletableFuture<LocalLogin> early = identities.authenticate("app",
                "s3cret".getBytes(StandardCharsets.UTF_8), Protocol.IMAP, REMOTE);
        assertThat(early).isDone();
        assertThat(((LocalLogin.Rejected) early.get()).reason()).contains("slowed down after 5 failed attempts");
        assertThat(argon2Runs).hasValue(5);

        clock.advance(Duration.ofMillis(999));
        assertThat(login("app", "s3cret", Protocol.IMAP)).isInstanceOf(LocalLogin.Rejected.class);
        clock.advance(Duration.ofMillis(1));
        assertThat(login("app", "s3cret", Protocol.IMAP)).isInstanceOf(LocalLogin.Accepted.class);
        assertThat(argon2Runs).hasValue(6);

        // success forgets the failures
        assertThat(login("app", "guess", Protocol.IMAP)).isEqualTo(new LocalLogin.Rejected("wrong password for app"));
        assertThat(argon2Runs).hasValue(7);
    }

    @Test
    void theDelayDoublesAndIsCapped() throws Exception {
        identities(2);
        for (int i = 0; i < LocalIdentities.FREE_FAILURES + 1; i++) {
            clock.advance(LocalIdentities.MAX_DELAY);
            login("app", "guess", Protocol.IMAP);
        }
        assertThat(argon2Runs).hasValue(6);
        clock.advance(Duration.ofMillis(1999));
        assertThat(login("app", "guess", Protocol.IMAP).toString()).contains("slowed down after 6");
        clock.advance(Duration.ofMillis(1));
        login("app", "guess", Protocol.IMAP);
        assertThat(argon2Runs).hasValue(7);

        assertThat(LocalIdentities.delay(4)).isZero();
        assertThat(LocalIdentities.delay(5)).isEqualTo(Duration.ofSeconds(1));
        assertThat(LocalIdentities.delay(7)).isEqualTo(Duration.ofSeconds(4));
        assertThat(LocalIdentities.delay(11)).isEqualTo(Duration.ofMinutes(1));
        assertThat(LocalIdentities.delay(1000)).isEqualTo(Duration.ofMinutes(1));
    }

    @Test
    void slowDownIsPerLoginNameNotPerAddress() throws Exception {
        identities(2);
        for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
            login("app", "guess", Protocol.IMAP);
        }
        // another app on the same 127.0.0.1 is not affected
        assertThat(login("smtp-only", "pw", Protocol.SMTP)).isInstanceOf(LocalLogin.Accepted.class);
    }

    @Test
    void unknownNamesAreSlowedDownLikeKnownOnes() throws Exception {
        identities(2);
        for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
            assertThat(login("ghost", "guess", Protocol.IMAP)).isEqualTo(new LocalLogin.Rejected("unknown login ghost"));
        }
        assertThat(login("ghost", "guess", Protocol.IMAP).toString()).contains("slowed down");
        assertThat(argon2Runs).hasValue(5);
    }

    @Test
    void aRememberedPasswordStillGetsInWhileTheNameIsSlowedDown() throws Exception {
        identities(2);
        login("app", "s3cret", Protocol.IMAP);
        for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
            login("app", "guess", Protocol.IMAP);
        }
        assertThat(login("app", "guess", Protocol.IMAP).toString()).contains("slowed down");
        assertThat(login("app", "s3cret", Protocol.IMAP)).isInstanceOf(LocalLogin.Accepted.class);
    }

    @Test
    void failuresAreForgottenAfterAQuietPeriod() throws Exception {
        identities(2);
        for (int i = 0; i < LocalIdentities.FREE_FAILURES; i++) {
            login("app", "guess", Protocol.IMAP);
        }
        clock.advance(LocalIdentities.FAILURE_MEMORY.plusSeconds(1));
        for (int i = 0; i < LocalIdentities.FREE_FAILURES - 1; i++) {
            login("app", "guess", Protocol.IMAP);
        }
        assertThat(login("app", "s3cret", Protocol.IMAP)).isInstanceOf(LocalLogin.Accepted.class);
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
        identities = new LocalIdentities(config::get, clock, 2, (password, phc) -> {
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
        List<CompletableFuture<LocalLogin>> guesses = new java.util.ArrayList<>();
        for (int i = 0; i < 20; i++) {
            guesses.add(identities.authenticate("app", ("guess" + i).getBytes(StandardCharsets.UTF_8),
                    Protocol.IMAP, REMOTE));
        }
        gate.countDown();
        for (CompletableFuture<LocalLogin> f : guesses) {
            assertThat(f.get(10, TimeUnit.SECONDS)).isInstanceOf(LocalLogin.Rejected.class);
        }
        assertThat(argon2Runs).hasValue(LocalIdentities.FREE_FAILURES);
    }

    @Test
    void realArgon2EndToEnd() throws Exception {
        String phc = PasswordHasher.hash("hunter2".getBytes(StandardCharsets.UTF_8));
        config.set(config(client("app", Optional.of(phc), "a@contoso.com", Protocol.SMTP)));
        identities = new LocalIdentities(config::get, clock, 1);
        assertThat(identities.authenticate("app", "hunter2".getBytes(StandardCharsets.UTF_8), Protocol.SMTP, REMOTE)
                .get(10, TimeUnit.SECONDS)).isInstanceOf(LocalLogin.Accepted.class);
        assertThat(identities.authenticate("app", "hunter3".getBytes(StandardCharsets.UTF_8), Protocol.SMTP, REMOTE)
                .get(10, TimeUnit.SECONDS)).isInstanceOf(LocalLogin.Rejected.class);
    }
}
