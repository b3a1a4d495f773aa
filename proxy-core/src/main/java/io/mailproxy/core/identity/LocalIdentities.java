package io.mailproxy.core.identity;

import io.mailproxy.core.runtime.SessionLog;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.config.MailproxyConfig;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
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
import java.util.concurrent.atomic.AtomicReference;
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
 *   <li>Failed logins slow down per login name, not per address (every local app shares 127.0.0.1): after
 *       {@value #FREE_FAILURES} failures in a row, each further attempt must wait 1 s, 2 s, 4 s... (at most
 *       {@link #MAX_DELAY}) after the last failure, and is refused without a password check until then. A remembered
 *       correct password still gets in, so an attacker cannot lock out the app that knows it. An unknown login name
 *       runs Argon2 against a dummy hash with the default parameters, so its answer takes as long as a known
 *       name's, and it is slowed down the same way. Checks for one login name run one after another, so a burst
 *       of parallel guesses gets no more tries than a sequence, and an app that opens several connections at once
 *       costs one Argon2 run: the others find the first one's result in the cache.</li>
 * </ul>
 * The configuration is read through a supplier on every login, so a reload takes effect at once. The returned
 * future completes on an Argon2 thread, or is already complete when no Argon2 run is needed (a remembered login, a
 * name being slowed down): a frontend hops back to its event loop either way.
 */
public final class LocalIdentities implements LocalAuthenticator, AutoCloseable {

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(LocalIdentities.class);

    static final int FREE_FAILURES = 5;
    static final Duration FIRST_DELAY = Duration.ofSeconds(1);
    static final Duration MAX_DELAY = Duration.ofMinutes(1);
    static final Duration VERIFIED_TTL = Duration.ofMinutes(15);
    /** Failures are forgotten after this long without another one. */
    static final Duration FAILURE_MEMORY = Duration.ofMinutes(15);
    static final int MAX_ENTRIES = 10_000;
    static final int QUEUE_CAPACITY = 1024;

    /** The Argon2 check; a seam for tests that count runs or note their thread. */
    interface Argon2 {
        boolean verify(byte[] password, String phc);
    }

    private record Failures(int count, Instant last) { }

    private final Supplier<MailproxyConfig> config;
    private final Clock clock;
    private final Argon2 argon2;
    private final ThreadPoolExecutor executor;
    private final SecretKeySpec hmacKey;
    private final Cache<String, String> verified;
    private final Cache<String, Failures> failures;
    private final String dummyHash;
    /** The last pending check per login name; the next one waits for it. */
    private final ConcurrentHashMap<String, CompletableFuture<LocalLogin>> inFlight = new ConcurrentHashMap<>();

    /**
     * @param config            the current configuration (read on every login, so reloads take effect)
     * @param argon2Concurrency Argon2 runs at once ({@code limits.argon2-concurrency})
     */
    public LocalIdentities(Supplier<MailproxyConfig> config, Clock clock, int argon2Concurrency) {
        this(config, clock, argon2Concurrency, PasswordHasher::verify);
    }

    LocalIdentities(Supplier<MailproxyConfig> config, Clock clock, int argon2Concurrency, Argon2 argon2) {
        if (argon2Concurrency < 1) {
            throw new IllegalArgumentException("argon2Concurrency must be at least 1");
        }
        this.config = config;
        this.clock = clock;
        this.argon2 = argon2;
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
        String cacheKey = cacheKey(login, password);
        LocalLogin remembered = fromCache(login, cacheKey, protocol);
        if (remembered != null) {
            return CompletableFuture.completedFuture(remembered);
        }
        byte[] copy = password.clone();
        CompletableFuture<LocalLogin> result = new CompletableFuture<>();
        // Checks for one login name run one after another: a burst of guesses cannot outrun the slow-down, and
        // when an app opens several connections at once, the first check fills the cache for the others.
        AtomicReference<CompletableFuture<LocalLogin>> previous = new AtomicReference<>();
        inFlight.compute(login, (k, old) -> {
            previous.set(old);
            return result;
        });
        result.whenComplete((r, e) -> {
            Arrays.fill(copy, (byte) 0);
            inFlight.remove(login, result);
        });
        if (previous.get() == null) {
            start(login, copy, protocol, cacheKey, result);
        } else {
            previous.get().whenComplete((r, e) -> start(login, copy, protocol, cacheKey, result));
        }
        return result;
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

    /** This login name's turn: the cache again, then the slow-down, then Argon2 on the executor. */
    private void start(String login, byte[] password, Protocol protocol, String cacheKey,
                       CompletableFuture<LocalLogin> result) {
        LocalLogin remembered = fromCache(login, cacheKey, protocol);
        if (remembered != null) {
            result.complete(remembered);
            return;
        }
        Failures f = failures.getIfPresent(login);
        if (f != null && f.count() >= FREE_FAILURES) {
            Instant until = f.last().plus(delay(f.count()));
            Instant now = clock.instant();
            if (now.isBefore(until)) {
                result.complete(new LocalLogin.Rejected("login " + SessionLog.printable(login) + " is slowed down after " + f.count()
                        + " failed attempts; the next check is allowed in "
                        + Math.max(1, Duration.between(now, until).toSeconds()) + " s"));
                return;
            }
        }
        try {
            executor.execute(() -> {
                try {
                    result.complete(check(login, password, protocol, cacheKey));
                } catch (RuntimeException | Error e) {
                    // the session says "rejected"; the cause would be lost without this line (no password in it:
                    // the exception comes from the hash check or the configuration, never holds the input)
                    LOG.error("password check of login {} failed unexpectedly", SessionLog.printable(login), e);
                    result.complete(new LocalLogin.Rejected("password check failed: " + e.getClass().getName()));
                }
            });
        } catch (RejectedExecutionException e) {
            result.complete(new LocalLogin.Rejected("too many logins waiting for a password check"));
        }
    }

    /** Runs on the Argon2 executor. Reads the configuration again: it may have been reloaded while queued. */
    private LocalLogin check(String login, byte[] password, Protocol protocol, String cacheKey) {
        MailproxyConfig cfg = config.get();
        ClientConfig client = cfg.clients().get(login);
        String phc = client == null ? null : client.passwordHash().orElse(null);
        boolean ok;
        try {
            ok = argon2.verify(password, phc == null ? dummyHash : phc) && phc != null;
        } catch (IllegalArgumentException e) {
            ok = false; // a malformed hash (validated at load, so not expected): treated as no match
            LOG.warn("the password hash of client {} cannot be read ({}); the login is refused",
                    SessionLog.printable(login), e.getMessage());
        }
        if (!ok) {
            recordFailure(login);
            return new LocalLogin.Rejected(client == null ? "unknown login " + SessionLog.printable(login)
                    : phc == null ? "client " + login + " has no password (a listener's fixed client)"
                    : "wrong password for " + login);
        }
        failures.invalidate(login);
        verified.put(cacheKey, phc);
        return resolve(cfg, client, protocol);
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

    private void recordFailure(String login) {
        Instant now = clock.instant();
        failures.asMap().compute(login, (k, old) -> new Failures(old == null ? 1 : old.count() + 1, now));
    }

    /** Wait after the last failure before another check: 1 s after the 5th failure, doubling, at most 1 min. */
    static Duration delay(int failureCount) {
        int over = failureCount - FREE_FAILURES;
        if (over < 0) {
            return Duration.ZERO;
        }
        long seconds = over >= 30 ? Long.MAX_VALUE : FIRST_DELAY.toSeconds() << over;
        return seconds >= MAX_DELAY.toSeconds() ? MAX_DELAY : Duration.ofSeconds(seconds);
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
