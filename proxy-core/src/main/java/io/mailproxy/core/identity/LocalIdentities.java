package io.mailproxy.core.identity;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.credentials.Scheduler;
import io.mailproxy.core.runtime.SessionLog;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Base64;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Local identities of legacy apps: the {@code clients} section of the configuration.
 *
 * <ul>
 *   <li>Argon2id runs on a bounded executor of {@code argon2Concurrency} threads, never on the caller's thread (an
 *       event loop). Each run allocates the hash's m (19 MiB by default), so at most {@code argon2Concurrency × m} is
 *       in use at once; the configuration loader refuses settings where that exceeds a quarter of the heap. At most
 *       {@value #QUEUE_CAPACITY} checks wait; beyond that a login is refused at once rather than queued without
 *       bound.</li>
 *   <li>A verified login is remembered for {@link #VERIFIED_TTL}, keyed by an HMAC-SHA256 of login and password
 *       under a random per-process key (so the cache holds nothing a password can be recovered from), together with
 *       the hash it was verified against: changing a client's hash in the configuration invalidates it. A repeated
 *       login then costs one HMAC, and the returned future is already complete.</li>
 *   <li>Failed logins are slowed down per penalty key: the login name when the client connects over loopback
 *       (every local app shares 127.0.0.1, so only the password tells the app from an attacker), the name and the
 *       source address otherwise. A failure (wrong password, unknown name) is answered only after
 *       {@code limits.login-failure-delay} (Dovecot's auth_failure_delay). After {@value #FREE_FAILURES} failures in
 *       a row the key is penalised: its password is checked at most once per delay, and every other attempt, a
 *       remembered password included, is answered {@link LocalLogin.Throttled} after the delay without a check. So
 *       guesses go at about one a second however they arrive (pipelined, on many connections, any protocol, cache
 *       warm or cold), and the right password gets in at the first check after an attack stops; a login with it
 *       clears the key's failures. While a key has failures, every answer waits for the delay, so a right guess is
 *       never answered sooner than a wrong one; a key without failures gets a remembered login at once.</li>
 *   <li>Attempts of one key are decided one after another, in order (a queue per key, drained by one thread at a
 *       time): a burst of parallel guesses gets no more checks than a sequence, and an app that opens several
 *       connections at once costs one Argon2 run, the others finding its result in the cache. An unknown login
 *       name runs Argon2 against a dummy hash with the default parameters, so its answer takes as long as a known
 *       name's, and it is penalised the same way.</li>
 * </ul>
 * The configuration is read through a supplier on every login, so a reload takes effect at once. The returned
 * future completes on an Argon2 thread or the scheduler's, or is already complete (a remembered login of a key
 * without failures): a frontend hops back to its event loop either way. Logins are counted in
 * {@code mailproxy.local.logins} by {@code protocol} and {@code outcome} ({@code accepted}, {@code rejected},
 * {@code throttled}).
 */
public final class LocalIdentities implements LocalAuthenticator, AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LocalIdentities.class);

    static final int FREE_FAILURES = 3;
    static final Duration VERIFIED_TTL = Duration.ofMinutes(15);
    /** Failures are forgotten after this long without another attempt of the key. */
    static final Duration FAILURE_MEMORY = Duration.ofMinutes(15);
    /** A penalised key is logged at most once per this interval, with the count of attempts slowed down since. */
    static final Duration LOG_INTERVAL = Duration.ofMinutes(1);
    static final int MAX_ENTRIES = 10_000;
    static final int QUEUE_CAPACITY = 1024;
    static final String METRIC = "mailproxy.local.logins";

    /** The Argon2 check; a seam for tests that count runs or note their thread. */
    interface Argon2 {
        boolean verify(byte[] password, String phc);
    }

    /**
     * A key's failures in a row. {@code nextCheck}: once penalised, the earliest time of the next password check;
     * {@code logged}: when the penalty was last logged (null: not yet), {@code held} attempts slowed down since.
     */
    private record Failures(int count, Instant nextCheck, Instant logged, long held) {
        boolean penalised() {
            return count >= FREE_FAILURES;
        }
    }

    /** What failures are counted by: the login name, and the source address when it is not loopback (else null). */
    private record Key(String login, String from) {
        @Override
        public String toString() {
            return SessionLog.printable(login) + (from == null ? "" : " from " + from);
        }
    }

    /** One login waiting for its turn; its own copy of the password, cleared once decided. */
    private record Attempt(String login, Key key, byte[] password, Protocol protocol, String cacheKey,
                           CompletableFuture<LocalLogin> result) { }

    private final Supplier<MailproxyConfig> config;
    private final Clock clock;
    private final Argon2 argon2;
    private final ThreadPoolExecutor executor;
    private final Scheduler scheduler;
    private final MeterRegistry meters;
    private final SecretKeySpec hmacKey;
    private final Cache<String, String> verified;
    private final Cache<Key, Failures> failures;
    private final String dummyHash;
    /** Attempts waiting per penalty key; present while one thread drains it (an Argon2 check may be running). */
    private final ConcurrentHashMap<Key, ArrayDeque<Attempt>> queues = new ConcurrentHashMap<>();

    /**
     * @param config            the current configuration (read on every login, so reloads take effect)
     * @param argon2Concurrency Argon2 runs at once ({@code limits.argon2-concurrency})
     * @param scheduler         delivers the delayed answers of failed and slowed-down logins
     * @param meters            where logins are counted (null: nowhere)
     */
    public LocalIdentities(Supplier<MailproxyConfig> config, Clock clock, int argon2Concurrency, Scheduler scheduler,
                           MeterRegistry meters) {
        this(config, clock, argon2Concurrency, scheduler, meters, PasswordHasher::verify);
    }

    LocalIdentities(Supplier<MailproxyConfig> config, Clock clock, int argon2Concurrency, Scheduler scheduler,
                    MeterRegistry meters, Argon2 argon2) {
        if (argon2Concurrency < 1) {
            throw new IllegalArgumentException("argon2Concurrency must be at least 1");
        }
        this.config = config;
        this.clock = clock;
        this.argon2 = argon2;
        this.scheduler = scheduler;
        this.meters = meters;
        this.executor = new ThreadPoolExecutor(argon2Concurrency, argon2Concurrency, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(QUEUE_CAPACITY), new Argon2Threads());
        SecureRandom random = new SecureRandom();
        byte[] key = new byte[32];
        random.nextBytes(key);
        this.hmacKey = new SecretKeySpec(key, "HmacSHA256");
        Ticker ticker = () -> {
            Instant now = clock.instant();
            return now.getEpochSecond() * 1_000_000_000L + now.getNano();
        };
        this.verified = Caffeine.newBuilder().ticker(ticker).executor(Runnable::run)
                .expireAfterWrite(VERIFIED_TTL).maximumSize(MAX_ENTRIES).build();
        this.failures = Caffeine.newBuilder().ticker(ticker).executor(Runnable::run)
                .expireAfterWrite(FAILURE_MEMORY).maximumSize(MAX_ENTRIES).build();
        // a hash nobody's password matches, with the default cost: unknown names take as long as known ones
        byte[] salt = new byte[PasswordHasher.SALT_BYTES];
        byte[] tag = new byte[PasswordHasher.HASH_BYTES];
        random.nextBytes(salt);
        random.nextBytes(tag);
        this.dummyHash = new PasswordHasher.Phc(PasswordHasher.MEMORY_KIB, PasswordHasher.ITERATIONS,
                PasswordHasher.PARALLELISM, salt, tag).format();
    }

    @Override
    public CompletableFuture<LocalLogin> authenticate(String login, byte[] password, Protocol protocol,
                                                      SocketAddress remote) {
        Key key = penaltyKey(login, remote);
        String cacheKey = cacheKey(login, password);
        if (failures.getIfPresent(key) == null && !queues.containsKey(key)) {
            LocalLogin remembered = fromCache(login, cacheKey, protocol);
            if (remembered != null) {
                count(protocol, remembered);
                return CompletableFuture.completedFuture(remembered);
            }
        }
        Attempt attempt = new Attempt(login, key, password.clone(), protocol, cacheKey, new CompletableFuture<>());
        boolean[] first = new boolean[1];
        queues.compute(key, (k, queue) -> {
            if (queue == null) {
                queue = new ArrayDeque<>();
                first[0] = true;
            }
            queue.add(attempt);
            return queue;
        });
        if (first[0]) {
            drain(key);
        }
        return attempt.result();
    }

    @Override
    public int maxLoginFailures() {
        return config.get().limits().maxLoginFailures();
    }

    /** The login name over loopback (every local app shares the address), else the name and the source address. */
    private static Key penaltyKey(String login, SocketAddress remote) {
        if (remote instanceof InetSocketAddress inet) {
            InetAddress address = inet.getAddress();
            if (address == null) {
                return new Key(login, inet.getHostString());
            }
            if (!address.isLoopbackAddress()) {
                return new Key(login, address.getHostAddress());
            }
        }
        return new Key(login, null);
    }

    /**
     * Decides the key's waiting attempts in order, until none is left or one needs Argon2 (whose completion drains
     * on). Only the thread that found the queue empty, or the Argon2 task of the key, calls this.
     */
    private void drain(Key key) {
        while (true) {
            Attempt[] next = new Attempt[1];
            queues.computeIfPresent(key, (k, queue) -> {
                next[0] = queue.poll();
                return next[0] == null ? null : queue;
            });
            if (next[0] == null || !decide(next[0])) {
                return;
            }
        }
    }

    /** This attempt's turn: penalty, cache, or Argon2. False when Argon2 runs (and drains the key on when done). */
    private boolean decide(Attempt a) {
        Instant now = clock.instant();
        Duration delay = config.get().limits().loginFailureDelay();
        Failures f = failures.getIfPresent(a.key());
        if (f != null && f.penalised() && now.isBefore(f.nextCheck())) {
            throttled(a, f, now, delay);
            return true;
        }
        if (f != null && f.penalised()) {
            failures.put(a.key(), new Failures(f.count(), now.plus(delay), f.logged(), f.held()));
        }
        // with failures, even the right password waits: it must not be answered sooner than a wrong one
        Duration answerDelay = f == null ? Duration.ZERO : delay;
        LocalLogin remembered = fromCache(a.login(), a.cacheKey(), a.protocol());
        if (remembered != null) {
            failures.invalidate(a.key());
            finish(a, remembered, answerDelay);
            return true;
        }
        try {
            executor.execute(() -> {
                try {
                    LocalLogin outcome;
                    boolean failed;
                    try {
                        outcome = check(a);
                        failed = outcome == null;
                        if (failed) {
                            outcome = recordFailure(a, delay);
                        }
                    } catch (RuntimeException | Error e) {
                        // the session says "rejected"; the cause would be lost without this line (no password in it:
                        // the exception comes from the hash check or the configuration, never holds the input)
                        LOG.error("password check of login {} failed unexpectedly", SessionLog.printable(a.login()), e);
                        outcome = new LocalLogin.Rejected("password check failed: " + e.getClass().getName());
                        failed = true;
                    }
                    finish(a, outcome, failed ? delay : answerDelay);
                } finally {
                    drain(a.key());
                }
            });
            return false;
        } catch (RejectedExecutionException e) {
            finish(a, new LocalLogin.Rejected("too many logins waiting for a password check"), Duration.ZERO);
            return true;
        }
    }

    /** Answered after the delay without a password check; logged once per key per {@link #LOG_INTERVAL}. */
    private void throttled(Attempt a, Failures f, Instant now, Duration delay) {
        Key who = a.key();
        if (f.logged() == null || !now.isBefore(f.logged().plus(LOG_INTERVAL))) {
            LOG.warn("login {} is slowed down after {} failed attempts in a row: one password check per {} ms, other"
                    + " attempts are answered \"try again later\" ({} since the last such line)", who, f.count(),
                    delay.toMillis(), f.held() + 1);
            f = new Failures(f.count(), f.nextCheck(), now, 0);
        } else {
            f = new Failures(f.count(), f.nextCheck(), f.logged(), f.held() + 1);
        }
        failures.put(a.key(), f);
        finish(a, new LocalLogin.Throttled("login " + who + " is slowed down after " + f.count()
                + " failed attempts; the password was not checked"), delay);
    }

    /** A login remembered as verified against the client's current hash, or null. */
    private LocalLogin fromCache(String login, String cacheKey, Protocol protocol) {
        MailproxyConfig cfg = config.get();
        ClientConfig client = cfg.clients().get(login);
        String verifiedHash = verified.getIfPresent(cacheKey);
        if (client != null && verifiedHash != null && client.passwordHash().map(verifiedHash::equals).orElse(false)) {
            return resolve(cfg, client, protocol);
        }
        return null;
    }

    /** Clears the password, counts the outcome and completes the attempt now or after {@code delay}. */
    private void finish(Attempt a, LocalLogin outcome, Duration delay) {
        Arrays.fill(a.password(), (byte) 0);
        count(a.protocol(), outcome);
        if (delay.isZero()) {
            a.result().complete(outcome);
            return;
        }
        try {
            scheduler.schedule(() -> a.result().complete(outcome), delay);
        } catch (RejectedExecutionException e) {
            a.result().complete(outcome); // shutting down
        }
    }

    private void count(Protocol protocol, LocalLogin outcome) {
        if (meters != null) {
            Counter.builder(METRIC).description("local logins of legacy clients by outcome")
                    .tag("protocol", protocol.configName())
                    .tag("outcome", outcome instanceof LocalLogin.Accepted ? "accepted"
                            : outcome instanceof LocalLogin.Throttled ? "throttled" : "rejected")
                    .register(meters).increment();
        }
    }

    /**
     * Runs on the Argon2 executor. Reads the configuration again: it may have been reloaded while queued. Null when
     * the password does not match (or the name is unknown).
     */
    private LocalLogin check(Attempt a) {
        MailproxyConfig cfg = config.get();
        ClientConfig client = cfg.clients().get(a.login());
        String phc = client == null ? null : client.passwordHash().orElse(null);
        boolean ok;
        try {
            ok = argon2.verify(a.password(), phc == null ? dummyHash : phc) && phc != null;
        } catch (IllegalArgumentException e) {
            ok = false; // a malformed hash (validated at load, so not expected): treated as no match
            LOG.warn("the password hash of client {} cannot be read ({}); the login is refused",
                    SessionLog.printable(a.login()), e.getMessage());
        }
        if (!ok) {
            return null;
        }
        failures.invalidate(a.key());
        verified.put(a.cacheKey(), phc);
        return resolve(cfg, client, a.protocol());
    }

    /** One more failure of the key; at {@value #FREE_FAILURES} it is penalised until a check with the right password. */
    private LocalLogin recordFailure(Attempt a, Duration delay) {
        Instant now = clock.instant();
        failures.asMap().compute(a.key(), (k, old) -> old == null ? new Failures(1, now, null, 0)
                : new Failures(old.count() + 1, now.plus(delay), old.logged(), old.held()));
        ClientConfig client = config.get().clients().get(a.login());
        return new LocalLogin.Rejected(client == null ? "unknown login " + SessionLog.printable(a.login())
                : client.passwordHash().isEmpty() ? "client " + a.login() + " has no password (a listener's fixed client)"
                : "wrong password for " + a.login());
    }

    @Override
    public LocalLogin fixed(String login, Protocol protocol) {
        MailproxyConfig cfg = config.get();
        ClientConfig client = cfg.clients().get(login);
        if (client == null) {
            return new LocalLogin.Rejected("fixed client " + SessionLog.printable(login) + " is not in clients");
        }
        return resolve(cfg, client, protocol);
    }

    private static LocalLogin resolve(MailproxyConfig cfg, ClientConfig client, Protocol protocol) {
        if (!client.allows(protocol)) {
            return new LocalLogin.Rejected("client " + client.login() + " may not use " + protocol.configName());
        }
        AccountConfig account = cfg.accounts().get(client.account());
        if (account == null) {
            return new LocalLogin.Rejected("account " + client.account() + " of client " + client.login()
                    + " is missing");
        }
        return new LocalLogin.Accepted(client, account);
    }

    private String cacheKey(String login, byte[] password) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(hmacKey);
            byte[] name = login.getBytes(StandardCharsets.UTF_8);
            mac.update(ByteBuffer.allocate(4).putInt(name.length).array());
            mac.update(name);
            mac.update(password);
            return Base64.getEncoder().encodeToString(mac.doFinal());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every Java runtime", e);
        }
    }

    /** Stops the Argon2 threads once the checks already queued are done. */
    @Override
    public void close() {
        executor.shutdown();
    }

    private static final class Argon2Threads implements ThreadFactory {
        private final AtomicInteger count = new AtomicInteger();

        @Override
        public Thread newThread(Runnable r) {
            Thread t = new Thread(r, "mailproxy-argon2-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        }
    }
}
