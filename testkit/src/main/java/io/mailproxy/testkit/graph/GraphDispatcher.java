package io.mailproxy.testkit.graph;

import com.sun.net.httpserver.HttpExchange;
import io.mailproxy.testkit.FakeIdentityPlatform;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Every request's path through the fake: faults a test asked for, the upload URLs (no bearer), then the bearer
 * token, the mailbox, the app's access to it, the permission the call needs, Outlook's concurrency limit, and the
 * handler.
 */
final class GraphDispatcher {
    static final String READ = "Mail.Read";
    static final String READ_WRITE = "Mail.ReadWrite";
    static final String SEND = "Mail.Send";
    /** Observed for a missing permission or an out-of-scope mailbox under RBAC for Applications (graph-evidence.md §4, §8; (O)). */
    static final String ACCESS_DENIED = "Access is denied. Check credentials and try again.";

    private final FakeGraph graph;
    private final MessagesApi messages;
    private final ListingApi listing;

    /** Thrown to drop the connection: the JDK server closes it when a handler throws. */
    static final class Drop extends IOException {
        Drop() {
            super("fake Graph drops the connection");
        }
    }

    @FunctionalInterface
    interface Handler {
        void handle(Call call) throws IOException;
    }

    private record Route(String permission, Handler handler) { }

    GraphDispatcher(FakeGraph graph) {
        this.graph = graph;
        this.messages = new MessagesApi(graph);
        this.listing = new ListingApi(graph);
    }

    void dispatch(HttpExchange exchange) throws IOException {
        Call call = new Call(exchange, graph);
        String raw = exchange.getRequestURI().getRawPath();
        String query = exchange.getRequestURI().getRawQuery();
        String logged = raw + (query == null ? "" : "?" + query);
        boolean authorization = call.header("Authorization") != null;
        call.loggedPath = logged;
        call.authorization = authorization;
        boolean drop = false;
        try {
            Optional<GraphFault> fault = graph.takeFault(
                    new GraphRequest(call.method, logged, "", "", 0, "", 0, authorization));
            if (fault.isPresent() && fault.get().processed()) {
                call.loseAnswer = true;
            } else if (fault.isPresent()) {
                drain(call);
                GraphFault f = fault.get();
                if (f.disconnect()) {
                    drop = true;
                    throw new Drop();
                }
                call.error(f.status(), f.code(), f.message(), f.retryAfter(), f.innerError());
                return;
            }
            if (raw.startsWith(UploadSessions.PATH)) {
                graph.uploads.handle(call, raw.substring(UploadSessions.PATH.length()));
                return;
            }
            graph(call, raw);
        } catch (Drop d) {
            drop = true;
            throw d;
        } catch (RuntimeException e) {
            if (call.loseAnswer) {
                drop = true;
                throw new Drop();
            }
            if (call.status == 0) {
                call.error(500, "generalException", "fake Graph failed: " + e);
            }
        } finally {
            call.log();
            if (!drop) {
                exchange.close();
            }
        }
    }

    private static void drain(Call call) throws IOException {
        try (InputStream in = call.exchange.getRequestBody()) {
            call.requestBytes = in.transferTo(java.io.OutputStream.nullOutputStream());
        }
    }

    private void graph(Call call, String raw) throws IOException {
        List<String> segs = new ArrayList<>();
        for (String s : raw.split("/")) {
            if (!s.isEmpty()) {
                segs.add(Call.decode(s));
            }
        }
        Optional<Call.Principal> principal = authenticate(call);
        if (principal.isEmpty()) {
            return;
        }
        call.principal = principal.get();
        int skip;
        String who;
        if (segs.size() >= 3 && "v1.0".equals(segs.get(0)) && "users".equalsIgnoreCase(segs.get(1))) {
            who = segs.get(2);
            skip = 3;
        } else if (segs.size() >= 2 && "v1.0".equals(segs.get(0)) && "me".equalsIgnoreCase(segs.get(1))
                && call.principal.user().isPresent()) {
            who = call.principal.user().get();
            skip = 2;
        } else {
            call.error(400, "BadRequest", "Resource not found for the segment '"
                    + (segs.isEmpty() ? "" : segs.get(segs.size() - 1)) + "'.");
            return;
        }
        call.mailboxName = who.toLowerCase(Locale.ROOT);
        call.segments = segs.subList(skip, segs.size());
        Optional<GraphMailbox> mailbox = graph.existingMailbox(who);
        if (mailbox.isEmpty()) {
            // (O) graph-evidence.md §4: 404 ErrorInvalidUser for a user the tenant does not have.
            call.error(404, "ErrorInvalidUser", "The requested user '" + who + "' is invalid.");
            return;
        }
        call.mailbox = mailbox.get();
        if (!call.mailbox.restEnabled) {
            // (O) graph-evidence.md §4: a mailbox without Exchange Online (no licence, on-premises).
            call.error(404, "MailboxNotEnabledForRESTAPI", "REST API is not yet supported for this mailbox.");
            return;
        }
        if (!mayOpen(call)) {
            return;
        }
        Route route = route(call);
        if (route == null) {
            return;
        }
        if (!permits(call.principal, route.permission(), own(call))) {
            // (O) a token without the permission: graph-evidence.md §4 (many clients); Graph names no permission.
            call.error(403, "ErrorAccessDenied", ACCESS_DENIED);
            return;
        }
        AtomicInteger inFlight = call.mailbox.inFlightByApp.computeIfAbsent(call.principal.appId(),
                k -> new AtomicInteger());
        int now = inFlight.incrementAndGet();
        AtomicBoolean freed = new AtomicBoolean();
        Runnable free = () -> {
            if (freed.compareAndSet(false, true)) {
                inFlight.decrementAndGet();
            }
        };
        // freed when the answer is committed (not after it was sent: the client could otherwise send its next
        // request into a slot the fake still counts, and get a 429 no server would give), or at the end
        call.beforeAnswer = free;
        try {
            if (now > graph.maxConcurrent) {
                // MGDC concepts/throttling-limits.md, "Outlook service limits": 4 concurrent requests per app ID and
                // mailbox. Code and message as observed (graph-evidence.md §4; (O)); Retry-After in seconds
                // (MGDC concepts/throttling.md).
                call.error(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                        java.util.OptionalInt.of(graph.throttleRetryAfter));
                return;
            }
            call.mailbox.inFlight(now);
            if (!graph.budgets.admit(call)) {
                return;
            }
            FakeGraph.Hold hold = graph.currentHold();
            if (hold != null && !hold.released.isDone()) {
                hold.held.incrementAndGet();
                try {
                    hold.released.get(60, TimeUnit.SECONDS);
                } catch (Exception e) {
                    throw new IllegalStateException("held request never released", e);
                } finally {
                    hold.held.decrementAndGet();
                }
            }
            java.time.Duration latency = graph.latency;
            if (!latency.isZero()) {
                try {
                    Thread.sleep(latency.toMillis());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            route.handler().handle(call);
        } finally {
            call.beforeAnswer = null;
            free.run();
        }
    }

    // ------------------------------------------------------------------------------------------- tokens

    /**
     * The bearer token as Graph validates it: absent, unknown, expired or for another audience → 401
     * InvalidAuthenticationToken (messages as observed, graph-evidence.md §4; (O)).
     */
    private Optional<Call.Principal> authenticate(Call call) throws IOException {
        String header = call.header("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7) || header.substring(7).isBlank()) {
            call.error(401, "InvalidAuthenticationToken", "Access token is empty.");
            return Optional.empty();
        }
        String token = header.substring(7).trim();
        Call.Principal registered = graph.registeredTokens.get(token);
        if (registered != null) {
            return Optional.of(registered);
        }
        Optional<FakeIdentityPlatform.AccessToken> issued = graph.idp == null ? Optional.empty()
                : graph.idp.accessToken(token);
        if (issued.isEmpty()) {
            call.error(401, "InvalidAuthenticationToken", "Access token validation failure.");
            return Optional.empty();
        }
        FakeIdentityPlatform.AccessToken t = issued.get();
        if (t.expired()) {
            call.error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.");
            return Optional.empty();
        }
        Set<String> permissions = new HashSet<>();
        boolean graphAudience = false;
        boolean other = false;
        for (String scope : t.scope().split("\\s+")) {
            if (scope.isEmpty()) {
                continue;
            }
            int slash = scope.lastIndexOf('/');
            String name;
            if (scope.contains("://")) {
                String resource = scope.substring(0, slash);
                if (!graph.graphResources.contains(resource)) {
                    other = true;
                    continue;
                }
                name = scope.substring(slash + 1);
            } else {
                // A scope without a resource is Microsoft Graph's (MGDC concepts/permissions-overview.md; Entra's
                // v2.0 endpoint assumes Graph when the resource is omitted).
                name = scope;
            }
            graphAudience = true;
            if (".default".equals(name)) {
                permissions.addAll(graph.applicationPermissions.getOrDefault(t.clientId(), Set.of()));
            } else {
                permissions.add(name);
            }
        }
        if (!graphAudience && other) {
            // The token's aud is another resource (Outlook's IMAP/SMTP scopes, for instance). (O) message.
            call.error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.");
            return Optional.empty();
        }
        return Optional.of(new Call.Principal(t.clientId(), t.user().map(u -> u.toLowerCase(Locale.ROOT)),
                Set.copyOf(permissions)));
    }

    private static boolean own(Call call) {
        return call.principal.user().map(u -> u.equals(call.mailbox.address())).orElse(true);
    }

    /**
     * App-only: an application access policy (or RBAC for Applications) limits the mailboxes (MGDC
     * concepts/auth-limit-mailbox-access.md: 403 ErrorAccessDenied "Access to OData is disabled."). Delegated: another
     * user's mailbox needs Exchange Full Access (MGDC concepts/outlook-share-messages-folders.md).
     */
    private boolean mayOpen(Call call) throws IOException {
        Call.Principal p = call.principal;
        if (p.user().isEmpty()) {
            Set<String> scope = graph.accessPolicies.get(p.appId());
            if (scope != null && !scope.contains(call.mailbox.address())) {
                call.error(403, "ErrorAccessDenied", "Access to OData is disabled.");
                return false;
            }
            return true;
        }
        if (!own(call) && !call.mailbox.fullAccess.contains(p.user().get())) {
            call.error(403, "ErrorAccessDenied", ACCESS_DENIED);
            return false;
        }
        return true;
    }

    /**
     * Permissions per call (graph-evidence.md §8, from each API page's permission table): Mail.Send to send;
     * Mail.ReadWrite to create, change, move or delete; Mail.Read (or ReadWrite) to read. Another user's mailbox with
     * a delegated token needs the {@code .Shared} variant.
     */
    static boolean permits(Call.Principal p, String needed, boolean own) {
        List<String> ok = READ.equals(needed) ? List.of(READ, READ_WRITE) : List.of(needed);
        for (String name : ok) {
            if (p.permissions().contains(own || p.user().isEmpty() ? name : name + ".Shared")) {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------------------------------------- routes

    private Route route(Call call) throws IOException {
        List<String> s = call.segments;
        String m = call.method;
        int n = s.size();
        String first = n > 0 ? s.get(0) : "";
        if (n == 1 && "sendMail".equalsIgnoreCase(first) && "POST".equals(m)) {
            return new Route(SEND, messages::sendMail);
        }
        if ("messages".equalsIgnoreCase(first)) {
            if (n == 1 && "POST".equals(m)) {
                return new Route(READ_WRITE, messages::createDraft);
            }
            if (n == 2) {
                switch (m) {
                    case "GET": return new Route(READ, messages::get);
                    case "PATCH": return new Route(READ_WRITE, messages::patch);
                    case "DELETE": return new Route(READ_WRITE, messages::delete);
                    default: break;
                }
            }
            String action = n >= 3 ? s.get(2) : "";
            if (n == 3 && "POST".equals(m) && "send".equalsIgnoreCase(action)) {
                return new Route(SEND, messages::send);
            }
            if (n == 3 && "POST".equals(m) && "move".equalsIgnoreCase(action)) {
                return new Route(READ_WRITE, messages::move);
            }
            if (n == 3 && "POST".equals(m) && "permanentDelete".equalsIgnoreCase(action)) {
                return new Route(READ_WRITE, messages::permanentDelete);
            }
            if (n == 3 && "GET".equals(m) && "$value".equals(action)) {
                return new Route(READ, messages::value);
            }
            if (n == 3 && "POST".equals(m) && "attachments".equalsIgnoreCase(action)) {
                return new Route(READ_WRITE, messages::addAttachment);
            }
            if (n == 4 && "POST".equals(m) && "attachments".equalsIgnoreCase(action)
                    && "createUploadSession".equalsIgnoreCase(s.get(3))) {
                return new Route(READ_WRITE, graph.uploads::create);
            }
        }
        if ("mailFolders".equalsIgnoreCase(first) && "GET".equals(m)) {
            if (n == 1) {
                return new Route(READ, listing::folders);
            }
            if (n == 2) {
                return new Route(READ, listing::folder);
            }
            if (n == 3 && "childFolders".equalsIgnoreCase(s.get(2))) {
                return new Route(READ, listing::childFolders);
            }
            if (n == 3 && "messages".equalsIgnoreCase(s.get(2))) {
                return new Route(READ, listing::messages);
            }
        }
        call.error(400, "BadRequest", "Resource not found for the segment '" + (n == 0 ? "" : s.get(n - 1)) + "'.");
        return null;
    }
}
