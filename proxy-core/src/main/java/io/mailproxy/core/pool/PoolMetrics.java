package io.mailproxy.core.pool;

import io.mailproxy.core.upstream.UpstreamException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * One pool's meters, tagged {@code account} and {@code protocol}; removed from the registry when the pool closes
 * (an account dropped by a reload leaves no stale series).
 */
final class PoolMetrics {

    static final String PREFIX = "mailproxy.pool.";

    private final MeterRegistry registry;
    private final Tags tags;
    private final Set<Meter> meters = ConcurrentHashMap.newKeySet();
    private final Counter leases;
    private final Timer waits;
    private final Counter limitHits;
    private final Counter creations;

    PoolMetrics(MeterRegistry registry, String account, String protocol, AccountPool pool) {
        this.registry = registry;
        this.tags = Tags.of("account", account, "protocol", protocol);
        leases = add(Counter.builder(PREFIX + "leases").description("connections leased to sessions")
                .tags(tags).register(registry));
        waits = add(Timer.builder(PREFIX + "wait").description("time from acquire to lease")
                .tags(tags).register(registry));
        limitHits = add(Counter.builder(PREFIX + "limit.hits")
                .description("acquires that failed because the pool stayed at its maximum").tags(tags)
                .register(registry));
        creations = add(Counter.builder(PREFIX + "creations").description("upstream connections opened")
                .tags(tags).register(registry));
        gauge("active", "connections leased to sessions", pool, p -> p.counts().active());
        gauge("idle", "connections ready to lease", pool, p -> p.counts().idle());
        gauge("pending", "connections being opened", pool, p -> p.counts().pending());
        gauge("waiting", "acquires waiting for a connection", pool, p -> p.counts().waiting());
        add(Gauge.builder(PREFIX + "token.life.min", pool, p -> p.minTokenLifeLeft()
                        .map(d -> d.toMillis() / 1000.0).orElse(Double.NaN))
                .description("shortest access-token life left among idle connections").baseUnit("seconds")
                .tags(tags).strongReference(true).register(registry));
    }

    private void gauge(String name, String description, AccountPool pool, ToDoubleFunction<AccountPool> f) {
        add(Gauge.builder(PREFIX + name, pool, f).description(description).tags(tags).strongReference(true)
                .register(registry));
    }

    private volatile boolean removed;

    private <M extends Meter> M add(M meter) {
        meters.add(meter);
        return meter;
    }

    void leased(Duration waited) {
        leases.increment();
        waits.record(waited.isNegative() ? Duration.ZERO : waited);
    }

    void limitHit() {
        limitHits.increment();
    }

    void created() {
        creations.increment();
    }

    void creationFailed(UpstreamException.Kind kind) {
        if (removed) {
            return;
        }
        add(Counter.builder(PREFIX + "creation.failures").description("upstream connections that failed to open")
                .tags(tags).tag("kind", kind.name().toLowerCase(Locale.ROOT)).register(registry)).increment();
    }

    void closed(String reason) {
        if (removed) {
            return;
        }
        add(Counter.builder(PREFIX + "closes").description("pooled connections closed, by reason")
                .tags(tags).tag("reason", reason).register(registry)).increment();
    }

    void remove() {
        removed = true;
        for (Meter m : meters) {
            registry.remove(m);
        }
        meters.clear();
    }
}
