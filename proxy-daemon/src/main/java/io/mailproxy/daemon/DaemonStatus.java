package io.mailproxy.daemon;

import io.mailproxy.core.admin.AccountHealth;
import io.mailproxy.core.admin.HealthSource;
import io.mailproxy.core.admin.StatusReport;
import io.mailproxy.core.admin.StatusSource;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.AuthConfig;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.credentials.CredentialStatus;
import io.mailproxy.core.credentials.DefaultUpstreamCredentials;
import io.mailproxy.core.credentials.TokenKey;
import io.mailproxy.core.credentials.TokenService;
import io.mailproxy.core.credentials.TokenStatus;
import io.mailproxy.core.pool.PoolRegistry;
import io.mailproxy.core.pool.PoolSnapshot;
import io.mailproxy.core.runtime.ServerRuntime;
import io.mailproxy.core.runtime.SessionInfo;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * {@code /health} and {@code /status} (and {@code ./mailproxy status}) over the runtime, the pools and the
 * credentials. An account is healthy unless its last login failed to get credentials or its last token refresh
 * failed; an account nobody has used yet is healthy (OAuth 2.0 accounts are warmed up at start, so they are tried).
 */
final class DaemonStatus implements HealthSource, StatusSource {

    /** /status lists at most this many sessions (sessionsOpen is the real count). */
    static final int MAX_SESSIONS_LISTED = 1000;

    private final Supplier<MailproxyConfig> config;
    private final ServerRuntime runtime;
    private final PoolRegistry pools;
    private final DefaultUpstreamCredentials credentials;
    private final TokenService tokens;
    private final Clock clock;
    private final Instant started;
    private final String version;
    /** The per-account gauges registered by {@link #bindMeters}, by account. Guarded by this. */
    private final Map<String, List<Meter>> accountMeters = new HashMap<>();

    DaemonStatus(Supplier<MailproxyConfig> config, ServerRuntime runtime, PoolRegistry pools,
                 DefaultUpstreamCredentials credentials, TokenService tokens, Clock clock, String version) {
        this.config = config;
        this.runtime = runtime;
        this.pools = pools;
        this.credentials = credentials;
        this.tokens = tokens;
        this.clock = clock;
        this.started = clock.instant();
        this.version = version;
    }

    private volatile java.util.function.Supplier<Optional<StatusReport.Queue>> queue = Optional::empty;

    /** Where the SMTP queue's state comes from, once the SMTP frontend runs one. */
    void queue(java.util.function.Supplier<Optional<StatusReport.Queue>> source) {
        this.queue = source;
    }

    @Override
    public Optional<StatusReport.Queue> queue() {
        return queue.get();
    }

    @Override
    public boolean listenersUp() {
        return runtime.boundAddresses().size() == config.get().listeners().size();
    }

    @Override
    public List<AccountHealth> accounts() {
        Map<TokenKey, TokenStatus> tokenStates = tokens.status();
        List<AccountHealth> out = new ArrayList<>();
        for (AccountConfig account : accountsInOrder()) {
            Optional<String> problem = problem(account, credentials.status(account.name()), tokenStates);
            out.add(problem.map(p -> AccountHealth.failing(account.name(), p))
                    .orElseGet(() -> AccountHealth.ok(account.name())));
        }
        return out;
    }

    @Override
    public StatusReport status() {
        Map<TokenKey, TokenStatus> tokenStates = tokens.status();
        List<SessionInfo> sessions = runtime.sessions();
        List<StatusReport.Pool> poolList = new ArrayList<>();
        for (PoolSnapshot p : pools.snapshot()) {
            poolList.add(new StatusReport.Pool(p.account(), p.protocol().configName(), p.active(), p.idle(),
                    p.pending(), p.waiting(), p.max(), p.minTokenLifeLeft(), p.throttledUntil()));
        }
        poolList.sort(Comparator.comparing(StatusReport.Pool::account).thenComparing(StatusReport.Pool::protocol));
        List<StatusReport.Account> accountList = new ArrayList<>();
        for (AccountConfig account : accountsInOrder()) {
            Optional<CredentialStatus> cs = credentials.status(account.name());
            Optional<String> problem = problem(account, cs, tokenStates);
            accountList.add(new StatusReport.Account(account.name(),
                    account.auth() instanceof AuthConfig.OAuth2 ? "oauth2" : "password", problem.isEmpty(), problem,
                    cs.flatMap(CredentialStatus::lastSuccessAt), cs.flatMap(CredentialStatus::lastErrorAt),
                    cs.flatMap(CredentialStatus::tokenExpiresAt)));
        }
        return new StatusReport(clock.instant(), started, version, runtime.sessionCount(),
                runtime.unauthenticatedCount(),
                sessions.size() > MAX_SESSIONS_LISTED ? sessions.subList(0, MAX_SESSIONS_LISTED) : sessions,
                poolList, accountList, queue.get());
    }

    /**
     * Registers {@code mailproxy.account.up} (1 when healthy, else 0) and {@code mailproxy.account.token.expires}
     * (seconds until the newest access token expires) for every configured account, and removes those of accounts
     * no longer configured. Call after start and after each reload.
     */
    synchronized void bindMeters(MeterRegistry registry) {
        List<String> names = accountsInOrder().stream().map(AccountConfig::name).toList();
        for (var it = accountMeters.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!names.contains(e.getKey())) {
                e.getValue().forEach(registry::remove);
                it.remove();
            }
        }
        for (String name : names) {
            accountMeters.computeIfAbsent(name, n -> List.of(
                    Gauge.builder("mailproxy.account.up", this, d -> d.healthy(n) ? 1 : 0)
                            .description("1 when the account's last upstream login and token refresh succeeded")
                            .tag("account", n).strongReference(true).register(registry),
                    Gauge.builder("mailproxy.account.token.expires", this, d -> d.tokenSecondsLeft(n))
                            .description("seconds until the account's newest access token expires")
                            .baseUnit("seconds").tag("account", n).strongReference(true).register(registry)));
        }
    }

    private boolean healthy(String account) {
        return config.get().account(account)
                .map(a -> problem(a, credentials.status(account), tokens.status()).isEmpty()).orElse(false);
    }

    private double tokenSecondsLeft(String account) {
        return credentials.status(account).flatMap(CredentialStatus::tokenExpiresAt)
                .map(t -> Duration.between(clock.instant(), t).toMillis() / 1000.0).orElse(Double.NaN);
    }

    private List<AccountConfig> accountsInOrder() {
        List<AccountConfig> list = new ArrayList<>(config.get().accounts().values());
        list.sort(Comparator.comparing(AccountConfig::name));
        return list;
    }

    /** The last login's failure, else the last failed refresh of one of the account's tokens. */
    private static Optional<String> problem(AccountConfig account, Optional<CredentialStatus> cs,
                                            Map<TokenKey, TokenStatus> tokenStates) {
        if (cs.isPresent() && !cs.get().ok()) {
            String error = cs.get().lastError().orElse("the last upstream login failed");
            String prefix = "account " + account.name() + ": ";   // /health names the account itself
            return Optional.of(error.startsWith(prefix) ? error.substring(prefix.length()) : error);
        }
        if (account.auth() instanceof AuthConfig.OAuth2 auth) {
            String principal = DefaultUpstreamCredentials.principal(account, auth);
            for (TokenStatus t : tokenStates.values()) {
                TokenKey k = t.key();
                if (k.provider().equals(auth.provider()) && k.grant() == auth.grant()
                        && k.principal().equals(principal) && t.lastError().isPresent()) {
                    return Optional.of("token refresh failed: " + t.lastError().get());
                }
            }
        }
        return Optional.empty();
    }
}
