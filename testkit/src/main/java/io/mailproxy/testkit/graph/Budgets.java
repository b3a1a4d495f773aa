package io.mailproxy.testkit.graph;

import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.OptionalInt;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Outlook's per app-and-mailbox budgets in fixed windows by the fake's clock: requests, and the bytes of PATCH, POST
 * and PUT bodies (MGDC concepts/throttling-limits.md, "Outlook service limits"). The upload budget is charged with the
 * request's declared Content-Length before it is read.
 */
final class Budgets {
    private final FakeGraph graph;
    private volatile int maxRequests;
    private volatile Duration requestWindow;
    private volatile long maxUpload;
    private volatile Duration uploadWindow;
    private final Map<String, Window> requests = new ConcurrentHashMap<>();
    private final Map<String, Window> uploads = new ConcurrentHashMap<>();

    private static final class Window {
        Instant start;
        long used;
    }

    Budgets(FakeGraph graph) {
        this.graph = graph;
    }

    void requests(int max, Duration window) {
        maxRequests = max;
        requestWindow = window;
    }

    void upload(long max, Duration window) {
        maxUpload = max;
        uploadWindow = window;
    }

    /** Whether the call fits both budgets; answers 429 when it does not. */
    boolean admit(Call c) throws IOException {
        String key = c.principal.appId() + "|" + c.mailbox.address();
        Instant now = graph.now();
        if (maxRequests > 0 && !charge(requests, key, now, requestWindow, 1, maxRequests)) {
            return throttle(c, requestWindow, now, requests.get(key), "Application is over its MailboxRequests limit.");
        }
        if (maxUpload > 0 && !"GET".equals(c.method) && !"DELETE".equals(c.method)) {
            String length = c.header("Content-Length");
            long bytes = length == null ? 0 : Long.parseLong(length.trim());
            if (!charge(uploads, key, now, uploadWindow, bytes, maxUpload)) {
                return throttle(c, uploadWindow, now, uploads.get(key), "Application is over its IncomingBytes limit.");
            }
        }
        return true;
    }

    private static boolean charge(Map<String, Window> windows, String key, Instant now, Duration length, long amount,
                                  long max) {
        Window w = windows.computeIfAbsent(key, k -> new Window());
        synchronized (w) {
            if (w.start == null || !now.isBefore(w.start.plus(length))) {
                w.start = now;
                w.used = 0;
            }
            if (w.used + amount > max) {
                return false;
            }
            w.used += amount;
            return true;
        }
    }

    /** 429 with Retry-After until the window ends (MGDC concepts/throttling.md: Retry-After on Outlook's 429s). */
    private static boolean throttle(Call c, Duration length, Instant now, Window w, String message)
            throws IOException {
        long seconds;
        synchronized (w) {
            seconds = Math.max(1, Duration.between(now, w.start.plus(length)).toSeconds());
        }
        // The code is the one observed for Outlook's limits (graph-evidence.md §4); the messages name the limit as the
        // concurrency one does and are (U).
        c.error(429, "ApplicationThrottled", message,
                OptionalInt.of((int) Math.min(Integer.MAX_VALUE, seconds)));
        return false;
    }
}
