package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.net.URI;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Binds {@code presets} (endpoint URLs and identity platform settings of a cloud) and the {@code upstreams} that
 * name them or give their own {@code imaps://}, {@code pop3s://} and {@code smtp+starttls://} endpoints.
 */
final class UpstreamBinder {

    private UpstreamBinder() {
    }

    static Preset preset(Node n, String name) {
        Map<Protocol, String> urls = new EnumMap<>(Protocol.class);
        for (Protocol p : Protocol.values()) {
            n.optString(p.configName(), "an upstream URL").ifPresent(u -> urls.put(p, u));
        }
        Map<String, List<String>> scopes = new LinkedHashMap<>();
        for (String s : OAuth2Binder.SCOPE_KEYS) {
            scopes.put(s, n.stringList("scopes." + s, "scopes"));
        }
        Optional<URI> graph = Optional.ofNullable(n.url("graph", null, null));
        if (graph.isPresent() && !"https".equalsIgnoreCase(graph.get().getScheme())) {
            throw n.error("graph", "expected an https:// URL such as \"https://graph.microsoft.com\", not \""
                    + graph.get() + "\"");
        }
        return new Preset(name, urls, n.optString("authority", "an https:// URL"), n.optString("tenant", "a tenant"),
                n.bool("app-only"), scopes, graph, n.optString("resource", "a v1.0 resource URI"));
    }

    /** The preset an upstream or oauth2 entry names, if it names one. */
    static Optional<Preset> presetRef(Node n, Map<String, Preset> presets) {
        Optional<String> name = n.optString("preset", "a preset name");
        if (name.isEmpty()) {
            return Optional.empty();
        }
        Preset p = presets.get(name.get());
        if (p == null) {
            throw n.error("preset", "expected one of " + String.join(", ", presets.keySet()) + ", not \""
                    + name.get() + "\"");
        }
        return Optional.of(p);
    }

    static UpstreamConfig upstream(Node n, String name, Map<String, Preset> presets) {
        Optional<Preset> preset = presetRef(n, presets);
        Map<Protocol, UpstreamEndpoint> endpoints = new EnumMap<>(Protocol.class);
        for (Protocol p : Protocol.values()) {
            String key = p.configName();
            Optional<String> url = n.optString(key, "an upstream URL");
            String text = url.orElseGet(() -> preset.map(ps -> ps.urls().get(p)).orElse(null));
            if (text == null) {
                continue;
            }
            UpstreamEndpoint endpoint;
            try {
                endpoint = UpstreamEndpoint.parse(text);
            } catch (IllegalArgumentException e) {
                throw url.isPresent() ? n.error(key, e.getMessage() + "; expected " + schemes(p))
                        : n.error("preset", "preset " + preset.get().name() + ": " + e.getMessage());
            }
            if (endpoint.protocol() != p) {
                throw n.error(key, "expected " + schemes(p) + " for " + key + ", not " + text);
            }
            endpoints.put(p, endpoint);
        }
        Optional<URI> graph = graph(n, preset);
        if (endpoints.isEmpty() && graph.isEmpty()) {
            throw n.error("", "an upstream needs endpoints; expected preset = office365 (or outlook, or"
                    + " office365-graph), or at least one of imap = \"imaps://...\", pop3 = \"pop3s://...\","
                    + " smtp = \"smtp+starttls://...\", graph = \"https://graph.microsoft.com/v1.0\"");
        }
        UpstreamConfig.Sending sending = sending(n, endpoints, graph);
        return new UpstreamConfig(name, preset.map(Preset::name), endpoints, graph, sending, n.optFilePath("ca-file"),
                n.duration("connect-timeout", ConfigBinder.MIN_TIMEOUT),
                n.duration("handshake-timeout", ConfigBinder.MIN_TIMEOUT),
                n.duration("reply-timeout", ConfigBinder.MIN_TIMEOUT), graphLimits(n));
    }

    /** Largest {@code graph-max-request}: Graph takes 4 MB per request, counted on the base64 text. */
    private static final long MAX_GRAPH_REQUEST = 3L * 1024 * 1024;

    private static UpstreamConfig.GraphLimits graphLimits(Node n) {
        int concurrency = n.integer("graph-concurrency", 1, 64, "a request count 1-64 (Outlook allows 4 per mailbox)");
        int queue = n.integer("graph-queue", 0, 100_000, "a request count 0-100000");
        long max = n.bytes("graph-max-request");
        if (max < 64 * 1024 || max > MAX_GRAPH_REQUEST) {
            throw n.error("graph-max-request", "expected a size of at least 64K and at most 3M (Graph takes 4 MB per"
                    + " request, base64 included), not " + max);
        }
        long chunk = n.bytes("graph-upload-chunk");
        if (chunk < UpstreamConfig.GraphLimits.CHUNK_UNIT || chunk % UpstreamConfig.GraphLimits.CHUNK_UNIT != 0
                || chunk >= 4L * 1000 * 1000) {
            throw n.error("graph-upload-chunk", "expected a multiple of 320 KiB (327680 bytes) below 4 MB, such as"
                    + " 3932160, not " + chunk);
        }
        return new UpstreamConfig.GraphLimits(concurrency, queue, max, (int) chunk);
    }

    /**
     * Graph's base URL: the upstream's own {@code graph} (an https:// URL with its version path), else the preset's
     * Graph host with {@code /v1.0}.
     */
    private static Optional<URI> graph(Node n, Optional<Preset> preset) {
        URI own = n.url("graph", null, null);
        if (own != null) {
            if (!"https".equalsIgnoreCase(own.getScheme()) || own.getHost() == null) {
                throw n.error("graph", "expected an https:// URL such as \"https://graph.microsoft.com/v1.0\", not \""
                        + own + "\"");
            }
            String text = own.toString();
            return Optional.of(URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text));
        }
        return preset.flatMap(Preset::graph).map(host -> {
            String text = host.toString();
            return URI.create((text.endsWith("/") ? text.substring(0, text.length() - 1) : text) + "/v1.0");
        });
    }

    /** {@code send-with}: smtp when there is an smtp endpoint, else graph when there is Graph; checked against both. */
    private static UpstreamConfig.Sending sending(Node n, Map<Protocol, UpstreamEndpoint> endpoints,
                                                  Optional<URI> graph) {
        Optional<String> text = n.optString("send-with", "smtp or graph");
        if (text.isEmpty()) {
            return endpoints.containsKey(Protocol.SMTP) || graph.isEmpty()
                    ? UpstreamConfig.Sending.SMTP : UpstreamConfig.Sending.GRAPH;
        }
        switch (text.get()) {
            case "smtp" -> {
                if (!endpoints.containsKey(Protocol.SMTP)) {
                    throw n.error("send-with", "send-with = smtp needs an smtp endpoint (smtp = \"smtp+starttls://...\""
                            + " or a preset that has one)");
                }
                return UpstreamConfig.Sending.SMTP;
            }
            case "graph" -> {
                if (graph.isEmpty()) {
                    throw n.error("send-with", "send-with = graph needs Microsoft Graph (graph ="
                            + " \"https://graph.microsoft.com/v1.0\" or a preset that has it)");
                }
                return UpstreamConfig.Sending.GRAPH;
            }
            default -> throw n.error("send-with", "expected smtp or graph, not \"" + text.get() + "\"");
        }
    }

    /** The URL forms an endpoint of {@code p} may take, as error messages spell them. */
    static String schemes(Protocol p) {
        String s = p.configName();
        return s + "s://host:port or " + s + "+starttls://host:port";
    }
}
