package io.mailproxy.core.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.graph.GraphException.Kind;
import io.mailproxy.core.graph.GraphHttp.Call;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Folder names as clients configure them: a well-known name ({@code inbox}, {@code deleteditems}, {@code archive},
 * ...), which Graph takes in place of an id, or a path of display names separated by {@code /}, resolved by walking
 * {@code childFolders} from the root (or from a well-known first segment: {@code inbox/Scans}). Resolved ids are
 * cached for {@link #TTL}: a folder renamed or removed meanwhile answers 404 until then.
 */
final class GraphFolders {

    /**
     * mailFolder's well-known names, "locale-independent" (microsoft-graph-docs-contrib api-reference/v1.0/resources/
     * mailfolder.md; evidence section 6). {@code archive} is the One-Click Archive folder, not the archive mailbox.
     */
    static final Set<String> WELL_KNOWN = Set.of("archive", "clutter", "conflicts", "conversationhistory",
            "deleteditems", "drafts", "inbox", "junkemail", "localfailures", "msgfolderroot", "outbox",
            "recoverableitemsdeletions", "scheduled", "searchfolders", "sentitems", "serverfailures", "syncissues");
    static final Duration TTL = Duration.ofMinutes(10);

    private final GraphHttp http;
    private final Cache<String, String> ids;

    GraphFolders(GraphHttp http, Clock clock) {
        this.http = http;
        this.ids = Caffeine.newBuilder().ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
                .expireAfterWrite(TTL).maximumSize(10_000).executor(Runnable::run).build();
    }

    /** The id (or well-known name) Graph takes in {@code mailFolders/{id}} and as a move's destinationId. */
    CompletableFuture<String> resolve(AccountConfig account, String path) {
        String trimmed = path.strip();
        while (trimmed.startsWith("/")) {
            trimmed = trimmed.substring(1);
        }
        String lower = trimmed.toLowerCase(Locale.ROOT);
        if (WELL_KNOWN.contains(lower)) {
            return CompletableFuture.completedFuture(lower);
        }
        String key = account.upstream() + "\u0000" + account.mailbox().toLowerCase(Locale.ROOT) + "\u0000" + trimmed;
        String cached = ids.getIfPresent(key);
        if (cached != null) {
            return CompletableFuture.completedFuture(cached);
        }
        String[] segments = trimmed.split("/");
        String first = segments[0].toLowerCase(Locale.ROOT);
        int start = WELL_KNOWN.contains(first) ? 1 : 0;
        CompletableFuture<String> id = CompletableFuture.completedFuture(start == 1 ? first : "msgfolderroot");
        for (int i = start; i < segments.length; i++) {
            String name = segments[i];
            String sofar = String.join("/", java.util.Arrays.copyOf(segments, i + 1));
            id = id.thenCompose(parent -> child(account, parent, name, sofar, Optional.empty()));
        }
        return id.thenApply(found -> {
            ids.put(key, found);
            return found;
        }).exceptionallyCompose(e -> CompletableFuture.failedFuture(GraphHttp.unwrap(e)));
    }

    /** One level: the child of {@code parent} whose displayName is {@code name} (exact, else ignoring case). */
    private CompletableFuture<String> child(AccountConfig account, String parent, String name, String sofar,
                                            Optional<String> next) {
        URI uri = next.map(URI::create).orElseGet(() -> GraphClient.withQuery(
                usersFolders(account, parent), "$select", "id,displayName", "$top", "250"));
        return http.send(Call.of(GraphOperation.FOLDER, account, "GET", uri), 200).thenCompose(r -> {
            JsonNode json = GraphClient.parse(GraphOperation.FOLDER, r.text());
            String loose = null;
            for (JsonNode f : json.path("value")) {
                String display = f.path("displayName").asText("");
                if (display.equals(name)) {
                    return CompletableFuture.completedFuture(f.path("id").asText());
                }
                if (loose == null && display.equalsIgnoreCase(name)) {
                    loose = f.path("id").asText();
                }
            }
            JsonNode more = json.get("@odata.nextLink");
            if (loose == null && more != null && !more.isNull()) {
                URI graph = http.upstream(account).graph().orElseThrow();
                URI link = URI.create(more.asText());
                // only to the Graph host over https, as a message listing's next link: our token goes nowhere else
                if ("https".equalsIgnoreCase(link.getScheme())
                        && graph.getRawAuthority().equalsIgnoreCase(link.getRawAuthority())) {
                    return child(account, parent, name, sofar, Optional.of(more.asText()));
                }
            }
            if (loose != null) {
                return CompletableFuture.completedFuture(loose);
            }
            return CompletableFuture.failedFuture(new GraphException(Kind.NOT_FOUND, 404, "", "Graph folder for "
                    + account.mailbox() + ": no folder \"" + sofar + "\" (a path of display names from the top of the"
                    + " mailbox, or a well-known name such as inbox or deleteditems)", Optional.empty(), null));
        });
    }

    private URI usersFolders(AccountConfig account, String parent) {
        URI graph = http.upstream(account).graph().orElseThrow();
        return URI.create(graph + "/users/" + GraphClient.encode(account.mailbox()).replace("%40", "@")
                + "/mailFolders/" + GraphClient.encode(parent) + "/childFolders");
    }
}
