package io.mailproxy.testkit.graph;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.UUID;

/**
 * One HTTP exchange with the fake Graph: the parsed request, who made it, and Graph's response conventions
 * ({@code request-id} and {@code client-request-id} headers, the OData JSON content type, the error body).
 */
final class Call {
    static final ObjectMapper JSON = new ObjectMapper();
    /** Graph's JSON responses carry this content type (observed on every Graph response; (O)). */
    static final String JSON_TYPE =
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
    private static final DateTimeFormatter INNER_DATE =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss").withZone(ZoneOffset.UTC);

    final HttpExchange exchange;
    final FakeGraph graph;
    final String method;
    final String requestId = UUID.randomUUID().toString();
    final String clientRequestId;
    final Map<String, String> query;
    /** The path segments after {@code /v1.0/users/{id}}, decoded. */
    List<String> segments = List.of();
    String mailboxName = "";
    GraphMailbox mailbox;
    Principal principal;
    int status;
    String errorCode = "";
    long requestBytes;
    String loggedPath = "";
    boolean authorization;
    /** {@link GraphFault#dropAfterProcessing()}: the handler runs to its answer, which is then not sent. */
    boolean loseAnswer;
    private boolean logged;

    /** Who called: the app, the signed-in user of a delegated token, and the Graph permissions the token carries. */
    record Principal(String appId, java.util.Optional<String> user, java.util.Set<String> permissions) { }

    Call(HttpExchange exchange, FakeGraph graph) {
        this.exchange = exchange;
        this.graph = graph;
        this.method = exchange.getRequestMethod();
        String crid = exchange.getRequestHeaders().getFirst("client-request-id");
        this.clientRequestId = crid == null ? UUID.randomUUID().toString() : crid;
        this.query = parseQuery(exchange.getRequestURI().getRawQuery());
    }

    static Map<String, String> parseQuery(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String k = eq < 0 ? pair : pair.substring(0, eq);
            String v = eq < 0 ? "" : pair.substring(eq + 1);
            out.put(decode(k), decode(v));
        }
        return out;
    }

    /** Percent-decoding without turning {@code +} into a space (OData URLs keep {@code +} in date-times). */
    static String decode(String s) {
        return URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8);
    }

    String header(String name) {
        return exchange.getRequestHeaders().getFirst(name);
    }

    /** Whether the caller asked for immutable ids (MGDC concepts/outlook-immutable-id.md). */
    boolean preferImmutableIds() {
        List<String> prefer = exchange.getRequestHeaders().get("Prefer");
        return prefer != null && prefer.stream().anyMatch(p -> p.replace(" ", "").contains("IdType=\"ImmutableId\""));
    }

    // ------------------------------------------------------------------------------------------- request body

    /** Thrown when the body exceeds what the caller allowed; the body has been drained. */
    static final class TooLarge extends Exception {
        TooLarge() {
            super(null, null, false, false);
        }
    }

    byte[] body(long max) throws IOException, TooLarge {
        try (InputStream in = exchange.getRequestBody()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[65536];
            long total = 0;
            int n;
            boolean over = false;
            while ((n = in.read(buf)) > 0) {
                total += n;
                if (total > max) {
                    over = true;
                } else {
                    out.write(buf, 0, n);
                }
            }
            requestBytes = total;
            if (over) {
                throw new TooLarge();
            }
            return out.toByteArray();
        }
    }

    /** The JSON body, or null after answering 400 when it is not JSON. */
    JsonNode jsonBody(long max) throws IOException, TooLarge {
        byte[] b = body(max);
        try {
            JsonNode node = JSON.readTree(b);
            if (node == null || !node.isObject()) {
                throw new IOException("not a JSON object");
            }
            return node;
        } catch (IOException e) {
            error(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set"
                    + " and payload is of valid JSON format.");
            return null;
        }
    }

    /** The JSON body up to the fake's request limit, or null after answering: 413 over it, 400 for no JSON. */
    JsonNode jsonBodyOrAnswer() throws IOException {
        try {
            return jsonBody(graph.maxRequestBytes);
        } catch (TooLarge e) {
            tooLarge();
            return null;
        }
    }

    // ------------------------------------------------------------------------------------------- responses

    /**
     * Sets the status and logs the request before the status line goes out, so that a test that has its answer also
     * finds it in {@link FakeGraph#requests()}.
     */
    /**
     * Run once, just before the answer's status line is written (the dispatcher frees the request's concurrency slot
     * there): a client that has its answer must find the slot free for its next request.
     */
    Runnable beforeAnswer;

    void commit(int status) throws IOException {
        drainRequest();
        Runnable done = beforeAnswer;
        beforeAnswer = null;
        if (done != null) {
            done.run(); // the request is over before its answer leaves, as a server's own accounting is
        }
        if (loseAnswer) {
            log(); // status 0: nothing was answered
            throw new GraphDispatcher.Drop();
        }
        this.status = status;
        log();
    }

    /**
     * Reads what is left of the request body before answering, so that an early answer (401, 403, 429 ...) to a large
     * upload reaches the client as an answer and not as a reset connection.
     */
    private void drainRequest() {
        try (InputStream in = exchange.getRequestBody()) {
            requestBytes += in.transferTo(OutputStream.nullOutputStream());
        } catch (IOException ignored) {
            // the client went away; the answer will fail on its own
        }
    }

    /** Logs the request once (status 0 when nothing was answered). */
    void log() {
        if (!logged) {
            logged = true;
            graph.logged(new GraphRequest(method, loggedPath, mailboxName, principal == null ? "" : principal.appId(),
                    status, errorCode, requestBytes, authorization));
        }
    }

    private void commonHeaders() {
        var h = exchange.getResponseHeaders();
        h.set("request-id", requestId);
        h.set("client-request-id", clientRequestId);
        h.set("Cache-Control", "no-cache");
        if (preferImmutableIds()) {
            // Graph echoes an honoured preference (graph-evidence.md §1: preference-applied: IdType=ImmutableId,
            // microsoft-graph-docs #6256); the fake's ids are immutable whether asked or not.
            h.set("Preference-Applied", "IdType=\"ImmutableId\"");
        }
    }

    void json(int status, ObjectNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        commonHeaders();
        exchange.getResponseHeaders().set("Content-Type", JSON_TYPE);
        commit(status);
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    /** A response with no body ({@code 202}, {@code 204}); Graph sends {@code Content-Length: 0}. */
    void empty(int status) throws IOException {
        commonHeaders();
        commit(status);
        exchange.sendResponseHeaders(status, status == 204 ? -1 : 0);
        exchange.getResponseBody().close();
    }

    void error(int status, String code, String message) throws IOException {
        error(status, code, message, OptionalInt.empty());
    }

    /**
     * Graph's error body: {@code {"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}}
     * (MGDC concepts/errors.md, "Error resource type"; clients must branch on {@code code}, not {@code message}).
     */
    void error(int status, String code, String message, OptionalInt retryAfter) throws IOException {
        error(status, code, message, retryAfter, true);
    }

    void error(int status, String code, String message, OptionalInt retryAfter, boolean withInner)
            throws IOException {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode error = body.putObject("error");
        error.put("code", code);
        error.put("message", message);
        if (withInner) {
            ObjectNode inner = error.putObject("innerError");
            inner.put("date", INNER_DATE.format(graph.now().truncatedTo(ChronoUnit.SECONDS)));
            inner.put("request-id", requestId);
            inner.put("client-request-id", clientRequestId);
        }
        retryAfter.ifPresent(s -> exchange.getResponseHeaders().set("Retry-After", Integer.toString(s)));
        errorCode = code;
        json(status, body);
    }

    /** 413 for a request body over the limit. Graph's body for it is (U): the code is the one client code checks. */
    void tooLarge() throws IOException {
        error(413, "RequestEntityTooLarge", "The request is larger than the maximum allowed size of "
                + graph.maxRequestBytes + " bytes.");
    }

    static String iso(Instant t) {
        return DateTimeFormatter.ISO_INSTANT.format(t.truncatedTo(ChronoUnit.SECONDS));
    }
}
