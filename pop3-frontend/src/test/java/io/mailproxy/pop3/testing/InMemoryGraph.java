package io.mailproxy.pop3.testing;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.graph.AttachmentUpload;
import io.mailproxy.core.graph.GraphException;
import io.mailproxy.core.graph.GraphMail;
import io.mailproxy.core.graph.MessageInfo;
import io.mailproxy.core.graph.MessagePage;
import io.mailproxy.core.graph.MimeSource;
import io.mailproxy.core.graph.Recipients;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * A mailbox behind {@link GraphMail}, in memory: folders of messages with immutable ids that survive moves, listings
 * in pages of {@link #pageSize} (oldest first), $value bodies published in {@link #chunkSize} buffers only as far as
 * they are requested. Every future completes on a thread of its own (never the caller's), as the real client's do.
 * Records each call in {@link #calls}; {@link #failures} makes a call on an id (or a folder) fail.
 */
public final class InMemoryGraph implements GraphMail {

    /** A message: its MIME, Exchange's size estimate, isRead, receivedDateTime. */
    public static final class Message {
        public final String id;
        public final byte[] mime;
        public volatile long estimate;
        public volatile boolean read;
        public final Instant received;

        Message(String id, byte[] mime, Instant received) {
            this.id = id;
            this.mime = mime;
            this.estimate = mime.length + 100;
            this.received = received;
        }
    }

    public final Map<String, List<Message>> folders = new ConcurrentHashMap<>();
    /** "list inbox unread=false page=1", "download ID", "delete ID", "markRead ID", "move ID deleteditems". */
    public final List<String> calls = new CopyOnWriteArrayList<>();
    /** A call's key ("download ID", "delete ID", "list FOLDER", ...) → the failure it gets (every time). */
    public final Map<String, Supplier<GraphException>> failures = new ConcurrentHashMap<>();
    /** Bytes of $value a body fails after (with UNAVAILABLE, as a reset would), -1: never. */
    public volatile long failBodyAfter = -1;
    public volatile int pageSize = 100;
    public volatile int chunkSize = 64 * 1024;
    /** Bytes of $value handed to subscribers in total (what they requested, and got). */
    public final AtomicLong published = new AtomicLong();
    /** $value subscriptions cancelled by the subscriber. */
    public final AtomicLong cancelled = new AtomicLong();

    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "in-memory-graph");
        t.setDaemon(true);
        return t;
    });
    private int nextId;
    private Instant clock = Instant.parse("2026-01-01T00:00:00Z");

    /** Adds a message to {@code folder} (received one minute after the previous one); returns its id. */
    public synchronized String add(String folder, String mime) {
        return add(folder, mime.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
    }

    public synchronized String add(String folder, byte[] mime) {
        // an immutable id is about 150 characters of base64 in real mailboxes
        String id = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" + "x".repeat(100) + "-" + (++nextId) + "=";
        clock = clock.plusSeconds(60);
        folders.computeIfAbsent(folder, f -> new CopyOnWriteArrayList<>()).add(new Message(id, mime, clock));
        return id;
    }

    /** The message with {@code id} wherever it is, if anywhere. */
    public Optional<Message> find(String id) {
        return folders.values().stream().flatMap(List::stream).filter(m -> m.id.equals(id)).findFirst();
    }

    /** The folder that holds {@code id}. */
    public Optional<String> folderOf(String id) {
        return folders.entrySet().stream().filter(e -> e.getValue().stream().anyMatch(m -> m.id.equals(id)))
                .map(Map.Entry::getKey).findFirst();
    }

    /** Moves a message as another client would. */
    public void moveNow(String id, String destination) {
        Message m = find(id).orElseThrow();
        folders.values().forEach(l -> l.remove(m));
        folders.computeIfAbsent(destination, f -> new CopyOnWriteArrayList<>()).add(m);
    }

    public void removeNow(String id) {
        folders.values().forEach(l -> l.removeIf(m -> m.id.equals(id)));
    }

    public static GraphException failure(GraphException.Kind kind, int status, String code) {
        return new GraphException(kind, status, code, code + " (in-memory Graph)",
                kind == GraphException.Kind.THROTTLED ? Optional.of(Duration.ofSeconds(1)) : Optional.empty(), null);
    }

    private <T> CompletableFuture<T> async(String call, String key, Supplier<T> body) {
        calls.add(call);
        return CompletableFuture.supplyAsync(() -> {
            Supplier<GraphException> f = failures.get(key);
            if (f != null) {
                throw f.get();
            }
            return body.get();
        }, threads);
    }

    private static GraphException notFound() {
        return failure(GraphException.Kind.NOT_FOUND, 404, "ErrorItemNotFound");
    }

    @Override
    public CompletableFuture<MessagePage> list(AccountConfig account, String folder, boolean unreadOnly,
            Optional<String> next) {
        int from = next.map(Integer::parseInt).orElse(0);
        return async("list " + folder + " unread=" + unreadOnly + " from=" + from, "list " + folder, () -> {
            List<Message> all = folders.get(folder);
            if (all == null) {
                throw failure(GraphException.Kind.NOT_FOUND, 404, "ErrorInvalidIdMalformed");
            }
            List<MessageInfo> found = new ArrayList<>();
            for (Message m : all) {
                if (!unreadOnly || !m.read) {
                    found.add(new MessageInfo(m.id, m.estimate, m.read, false, m.received));
                }
            }
            found.sort(java.util.Comparator.comparing(MessageInfo::received));
            int to = Math.min(found.size(), from + pageSize);
            return new MessagePage(found.subList(Math.min(from, to), to),
                    to < found.size() ? Optional.of(Integer.toString(to)) : Optional.empty());
        });
    }

    @Override
    public CompletableFuture<Flow.Publisher<List<ByteBuffer>>> download(AccountConfig account, String id) {
        return async("download " + id, "download " + id, () -> {
            Message m = find(id).orElseThrow(InMemoryGraph::notFound);
            return subscriber -> subscriber.onSubscribe(new Body(m.mime, subscriber));
        });
    }

    /** Publishes one buffer per requested item, on a thread of its own, never ahead of demand. */
    private final class Body implements Flow.Subscription {
        private final byte[] mime;
        private final Flow.Subscriber<? super List<ByteBuffer>> subscriber;
        private final ExecutorService serial = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "in-memory-graph-body");
            t.setDaemon(true);
            return t;
        });
        private int offset;
        private boolean done;

        Body(byte[] mime, Flow.Subscriber<? super List<ByteBuffer>> subscriber) {
            this.mime = mime;
            this.subscriber = subscriber;
        }

        @Override
        public void request(long n) {
            serial.execute(() -> {
                for (long i = 0; i < n && !done; i++) {
                    long failAfter = failBodyAfter;
                    if (failAfter >= 0 && offset >= failAfter) {
                        done = true;
                        subscriber.onError(failure(GraphException.Kind.UNAVAILABLE, 0, "connection reset"));
                        break;
                    }
                    if (offset >= mime.length) {
                        done = true;
                        subscriber.onComplete();
                        break;
                    }
                    int len = Math.min(chunkSize, mime.length - offset);
                    ByteBuffer b = ByteBuffer.wrap(mime, offset, len).slice();
                    offset += len;
                    published.addAndGet(len);
                    subscriber.onNext(List.of(b));
                }
                if (!done && offset >= mime.length && failBodyAfter < 0) {
                    done = true;
                    subscriber.onComplete();
                }
                if (done) {
                    serial.shutdown();
                }
            });
        }

        @Override
        public void cancel() {
            if (serial.isShutdown()) {
                return; // already complete: a cancel is a no-op (Reactive Streams rule 3.7)
            }
            serial.execute(() -> {
                if (!done) {
                    done = true;
                    cancelled.incrementAndGet();
                }
                serial.shutdown();
            });
        }
    }

    @Override
    public CompletableFuture<Void> markRead(AccountConfig account, String id) {
        return async("markRead " + id, "markRead " + id, () -> {
            find(id).orElseThrow(InMemoryGraph::notFound).read = true;
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> move(AccountConfig account, String id, String destination) {
        return async("move " + id + " " + destination, "move " + id, () -> {
            Message m = find(id).orElseThrow(InMemoryGraph::notFound);
            if (!folders.containsKey(destination)) {
                throw failure(GraphException.Kind.NOT_FOUND, 404, "ErrorItemNotFound");
            }
            moveNow(id, destination);
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> delete(AccountConfig account, String id) {
        return async("delete " + id, "delete " + id, () -> {
            // a soft delete: into Recoverable Items, which no listing shows
            find(id).ifPresent(m -> moveNow(id, "recoverableitemsdeletions"));
            return null;
        });
    }

    @Override
    public CompletableFuture<Optional<MessageInfo>> message(AccountConfig account, String id) {
        return async("message " + id, "message " + id,
                () -> find(id).map(m -> new MessageInfo(m.id, m.estimate, m.read, false, m.received)));
    }

    // ---- sending: not used by POP3 ----

    @Override
    public CompletableFuture<Void> sendMime(AccountConfig account, MimeSource mime) {
        throw new UnsupportedOperationException();
    }

    @Override
    public CompletableFuture<String> createMimeDraft(AccountConfig account, MimeSource mime) {
        throw new UnsupportedOperationException();
    }

    @Override
    public CompletableFuture<Void> setRecipients(AccountConfig account, String draftId, Recipients recipients) {
        throw new UnsupportedOperationException();
    }

    @Override
    public CompletableFuture<Void> addAttachment(AccountConfig account, String draftId, AttachmentUpload upload) {
        throw new UnsupportedOperationException();
    }

    @Override
    public CompletableFuture<Void> sendDraft(AccountConfig account, String draftId) {
        throw new UnsupportedOperationException();
    }

    @Override
    public long maxMimeRequestBytes() {
        return 3 * 1024 * 1024;
    }

    /** The messages of every folder, by folder (for assertions). */
    public Map<String, List<String>> snapshot() {
        Map<String, List<String>> s = new LinkedHashMap<>();
        folders.forEach((f, l) -> s.put(f, l.stream().map(m -> m.id).toList()));
        return s;
    }
}
