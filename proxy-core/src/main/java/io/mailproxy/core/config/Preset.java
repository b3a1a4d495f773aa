package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A preset: endpoint URLs and Microsoft identity platform settings. {@code graph} (the cloud's Microsoft Graph
 * host) is validated here and kept for the Graph upstream; {@code resource} is the v1.0 resource of a cloud
 * whose password grant needs it (21Vianet).
 */
record Preset(String name, Map<Protocol, String> urls, Optional<String> authority, Optional<String> tenant,
              boolean appOnly, Map<String, List<String>> scopes, Optional<URI> graph, Optional<String> resource) { }
