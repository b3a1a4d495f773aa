package io.mailproxy.core.upstream;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * The {@code mailproxy.upstream.logins} counter ({@code mailproxy_upstream_logins_total} in Prometheus): every
 * connection attempt of the connector, tagged {@code account}, {@code protocol} and {@code outcome} ({@code ok}, or
 * the {@link UpstreamException.Kind} in lower case, or {@code abandoned} when the caller gave up first). The tags
 * hold names from the configuration and nothing else.
 */
final class LoginMetrics {

    static final String NAME = "mailproxy.upstream.logins";
    static final String ABANDONED = "abandoned";

    private final MeterRegistry registry;

    /** @param registry null for none */
    LoginMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    void record(AccountConfig account, Protocol protocol, CompletableFuture<UpstreamSession> attempt) {
        if (registry == null) {
            return;
        }
        attempt.whenComplete((s, e) -> Counter.builder(NAME)
                .description("upstream connections opened and logged in, by outcome")
                .tag("account", account.name())
                .tag("protocol", protocol.configName())
                .tag("outcome", e == null ? "ok" : outcome(e))
                .register(registry)
                .increment());
    }

    static String outcome(Throwable e) {
        return Failures.unwrap(e) instanceof UpstreamException u ? u.kind().name().toLowerCase(Locale.ROOT) : ABANDONED;
    }
}
