package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * A provider's endpoints: from a preset ({@code office365}, {@code outlook}) or URLs of its own.
 *
 * @param endpoints one per protocol the provider serves
 * @param caFile    extra trust anchors (PEM) on top of the system's
 */
public record UpstreamConfig(
        String name,
        Optional<String> preset,
        Map<Protocol, UpstreamEndpoint> endpoints,
        Optional<Path> caFile,
        Duration connectTimeout,
        Duration handshakeTimeout,
        Duration replyTimeout) {

    public UpstreamConfig {
        endpoints = Map.copyOf(endpoints);
    }

    public Optional<UpstreamEndpoint> endpoint(Protocol protocol) {
        return Optional.ofNullable(endpoints.get(protocol));
    }
}
