package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * A provider's endpoints: from a preset ({@code office365}, {@code outlook}) or URLs of its own.
 *
 * @param endpoints one per protocol the provider serves
 * @param graph     Microsoft Graph's base URL ({@code https://graph.microsoft.com/v1.0}), when the provider has it
 * @param sending   how SMTP clients' messages go upstream: the {@code smtp} endpoint, or Graph's sendMail
 * @param caFile    extra trust anchors (PEM) on top of the system's
 */
public record UpstreamConfig(
        String name,
        Optional<String> preset,
        Map<Protocol, UpstreamEndpoint> endpoints,
        Optional<URI> graph,
        Sending sending,
        Optional<Path> caFile,
        Duration connectTimeout,
        Duration handshakeTimeout,
        Duration replyTimeout) {

    /** Where an SMTP client's message goes: {@code send-with = smtp | graph}. */
    public enum Sending { SMTP, GRAPH }

    public UpstreamConfig {
        endpoints = Map.copyOf(endpoints);
    }

    public Optional<UpstreamEndpoint> endpoint(Protocol protocol) {
        return Optional.ofNullable(endpoints.get(protocol));
    }
}
