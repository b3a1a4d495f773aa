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
 * @param graphLimits the Graph client's per-mailbox concurrency, queue and request sizes
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
        Duration replyTimeout,
        GraphLimits graphLimits) {

    /** Where an SMTP client's message goes: {@code send-with = smtp | graph}. */
    public enum Sending { SMTP, GRAPH }

    /**
     * The Graph client's limits for this upstream ({@code graph-concurrency}, {@code graph-queue},
     * {@code graph-max-request}, {@code graph-upload-chunk}; the Graph client's {@code GraphSettings} explains each).
     */
    public record GraphLimits(int concurrency, int queue, long maxRequestBytes, int uploadChunkBytes) {
        /** 320 KiB: upload chunks are a multiple of it. */
        public static final int CHUNK_UNIT = 320 * 1024;
        /** reference.conf's defaults. */
        public static final GraphLimits DEFAULTS = new GraphLimits(4, 100, 2_987_712L, 12 * CHUNK_UNIT);
    }

    public UpstreamConfig {
        endpoints = Map.copyOf(endpoints);
    }

    /** An upstream with the default Graph limits. */
    public UpstreamConfig(String name, Optional<String> preset, Map<Protocol, UpstreamEndpoint> endpoints,
                          Optional<URI> graph, Sending sending, Optional<Path> caFile, Duration connectTimeout,
                          Duration handshakeTimeout, Duration replyTimeout) {
        this(name, preset, endpoints, graph, sending, caFile, connectTimeout, handshakeTimeout, replyTimeout,
                GraphLimits.DEFAULTS);
    }

    public Optional<UpstreamEndpoint> endpoint(Protocol protocol) {
        return Optional.ofNullable(endpoints.get(protocol));
    }
}
