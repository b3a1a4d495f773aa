package io.mailproxy.core.pool;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.upstream.UpstreamConnector;
import io.mailproxy.core.upstream.UpstreamException;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.SplittableRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream pools, one per account and protocol (IMAP and SMTP; POP3 is never pooled), found through a
 * concurrent index keyed by account name and protocol. A pool is made on first use, or in the background for every
 * configured account with {@code min-idle > 0}. A housekeeping task on the injected scheduler retires channels
 * before their token expires, evicts idle ones above min-idle, keeps the rest alive with NOOP, pre-warms, and
 * follows configuration reloads: changed pool settings are adopted, a removed account's pool is closed.
 */
public final class PoolRegistry implements UpstreamPools, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PoolRegistry.class);

    static final Duration HOUSEKEEPING_PERIOD = Duration.ofSeconds(5);
    static final Duration EXCHANGE_TIMEOUT = Duration.ofSeconds(15);
    static final Duration THROTTLE_INITIAL = Duration.ofSeconds(30);
    static final Duration THROTTLE_MAX = Duration.ofMinutes(10);
    static final Duration RETRY_INITIAL = Duration.ofSeconds(5);

    private record Key(String account, Protocol protocol) { }

    private final PoolEnv env;
    private final Supplier<MailproxyConfig> config;
    private final Map<Key, AccountPool> pools = new ConcurrentHashMap<>();
    private final ScheduledFuture<?> housekeeping;
    private volatile boolean closed;

    /**
     * @param connector opens authenticated upstream connections
     * @param config    the current configuration (a reload replaces what it returns)
     * @param clock     all time decisions (token life, idle windows, back-off)
     * @param scheduler housekeeping, acquire timeouts and probe/reset timeouts; never an event loop's own work
     * @param meters    pool meters, tagged {@code account} and {@code protocol}
     */
    public PoolRegistry(UpstreamConnector connector, Supplier<MailproxyConfig> config, Clock clock,
                        ScheduledExecutorService scheduler, MeterRegistry meters) {
        this(new PoolEnv(connector, clock, scheduler, meters, new SplittableRandom(),
                EXCHANGE_TIMEOUT, THROTTLE_INITIAL, THROTTLE_MAX, RETRY_INITIAL, new AtomicLong()),
                config, HOUSEKEEPING_PERIOD);
    }

    PoolRegistry(PoolEnv env, Supplier<MailproxyConfig> config, Duration housekeepingPeriod) {
        this.env = Objects.requireNonNull(env);
        this.config = Objects.requireNonNull(config);
        this.housekeeping = env.scheduler().scheduleWithFixedDelay(this::housekeep, 0,
                housekeepingPeriod.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Leases an authenticated channel of the account's pool for {@code protocol}. POP3 fails with
     * {@link IllegalArgumentException}: POP3 upstream sessions are never pooled (use the connector). An account
     * whose pool has {@code max = 0} gets a fresh, unpooled connection that its release closes.
     */
    @Override
    public CompletableFuture<Lease> acquire(AccountConfig account, Protocol protocol) {
        Objects.requireNonNull(account, "account");
        Objects.requireNonNull(protocol, "protocol");
        if (protocol == Protocol.POP3) {
            return CompletableFuture.failedFuture(new IllegalArgumentException(
                    "POP3 upstream sessions are never pooled; open them with the UpstreamConnector"));
        }
        if (closed) {
            return CompletableFuture.failedFuture(shuttingDown());
        }
        if (account.pool(protocol).max() <= 0) {
            return env.connector().connect(account, protocol, null).thenApply(UnpooledLease::new);
        }
        AccountPool pool = poolFor(account, protocol);
        MailproxyConfig current = config.get();
        pool.adopt(account, current == null ? null : current.upstreams().get(account.upstream()));
        return pool.acquire();
    }

    private AccountPool poolFor(AccountConfig account, Protocol protocol) {
        AccountPool pool = pools.computeIfAbsent(new Key(account.name(), protocol),
                k -> new AccountPool(env, account, protocol));
        if (closed) {
            pool.close(shuttingDown()); // lost a race with close(): nothing may outlive it
        }
        return pool;
    }

    /** The pools' current state, for {@code /status}; sorted by account, then protocol. */
    public List<PoolSnapshot> snapshot() {
        List<PoolSnapshot> out = new ArrayList<>();
        for (AccountPool pool : pools.values()) {
            out.add(pool.snapshot());
        }
        out.sort(Comparator.comparing(PoolSnapshot::account).thenComparing(PoolSnapshot::protocol));
        return out;
    }

    /** Closes every idle channel, fails every waiter; leased channels are closed when they are given back. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        housekeeping.cancel(false);
        for (AccountPool pool : pools.values()) {
            pool.close(shuttingDown());
        }
        pools.clear();
    }

    private void housekeep() {
        if (closed) {
            return;
        }
        try {
            MailproxyConfig current = config.get();
            Map<String, AccountConfig> accounts = current == null ? Map.of() : current.accounts();
            pools.forEach((key, pool) -> {
                AccountConfig account = accounts.get(key.account());
                if (account == null || account.pool(key.protocol()).max() <= 0) {
                    if (pools.remove(key, pool)) {
                        log.info("{}: account or pool removed from the configuration, closing the pool", pool.name());
                        pool.close(new UpstreamException(Kind.CREDENTIALS_UNAVAILABLE,
                                "account " + key.account() + " is no longer pooled for " + key.protocol()));
                    }
                } else {
                    pool.adopt(account, current.upstreams().get(account.upstream()));
                }
            });
            for (AccountConfig account : accounts.values()) {
                for (Protocol p : new Protocol[] {Protocol.IMAP, Protocol.SMTP}) {
                    if (account.pool(p).max() > 0 && account.pool(p).minIdle() > 0
                            && !elsewhere(current.upstreams().get(account.upstream()), p)) {
                        poolFor(account, p);
                    }
                }
            }
            for (AccountPool pool : pools.values()) {
                pool.housekeep();
            }
        } catch (RuntimeException e) {
            log.warn("pool housekeeping failed", e);
        }
    }

    /**
     * The account's upstream serves {@code p} some other way: it has no endpoint for it (an upstream with only Microsoft
     * Graph), or it sends with Graph. Nothing to pre-warm then; pre-warming would fail and warn at every retry.
     * An upstream missing from the configuration is the pool's to report.
     */
    private static boolean elsewhere(UpstreamConfig upstream, Protocol p) {
        return upstream != null && (upstream.endpoint(p).isEmpty()
                || (p == Protocol.SMTP && upstream.sending() == UpstreamConfig.Sending.GRAPH));
    }

    private static UpstreamException shuttingDown() {
        return new UpstreamException(Kind.UNREACHABLE, "mailproxy is shutting down");
    }
}
