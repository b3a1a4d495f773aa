package io.mailproxy.smtp.graph;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.graph.AttachmentUpload;
import io.mailproxy.core.graph.GraphException;
import io.mailproxy.core.graph.GraphMail;
import io.mailproxy.core.graph.MessageInfo;
import io.mailproxy.core.graph.MessagePage;
import io.mailproxy.core.graph.MimeSource;
import io.mailproxy.core.graph.Recipients;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Flow;

/** An in-memory Graph that records each call ("sendMime", "createMimeDraft", ...) and fails the ones a test says. */
public final class RecordingGraph implements GraphMail {

    public final List<String> calls = new CopyOnWriteArrayList<>();
    /** The MIME of each sendMime/createMimeDraft, as Graph's client would read it. */
    public final List<String> mime = new CopyOnWriteArrayList<>();
    public final Map<String, Recipients> recipients = new ConcurrentHashMap<>();
    /** Drafts that exist (id → still a draft). */
    public final Map<String, Boolean> drafts = new ConcurrentHashMap<>();
    /** A call name → the failure its next call gets (once). */
    public final Map<String, GraphException> failNext = new ConcurrentHashMap<>();
    /** sendDraft fails with this, but the draft is sent all the same (a lost 202). */
    public volatile GraphException loseNextSendReply;
    public volatile long maxRequest = 4 * 1024 * 1024;
    private int ids;

    public static GraphException failure(GraphException.Kind kind, int status, String code) {
        return new GraphException(kind, status, code, code + " (test)", Optional.empty(), null);
    }

    public static GraphException throttled(Duration retryAfter) {
        return new GraphException(GraphException.Kind.THROTTLED, 429, "ApplicationThrottled", "throttled (test)",
                Optional.of(retryAfter), null);
    }

    private <T> CompletableFuture<T> call(String name, java.util.function.Supplier<T> ok) {
        calls.add(name);
        GraphException f = failNext.remove(name);
        return f != null ? CompletableFuture.failedFuture(f) : CompletableFuture.supplyAsync(ok);
    }

    private static String read(MimeSource s) {
        try (InputStream in = s.open()) {
            byte[] b = in.readAllBytes();
            if (b.length != s.size()) {
                throw new IllegalStateException("size " + s.size() + " but " + b.length + " octets");
            }
            return new String(b, StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public CompletableFuture<Void> sendMime(AccountConfig account, MimeSource source) {
        return call("sendMime", () -> {
            mime.add(read(source));
            return null;
        });
    }

    @Override
    public synchronized CompletableFuture<String> createMimeDraft(AccountConfig account, MimeSource source) {
        String id = "draft-" + (++ids);
        return call("createMimeDraft", () -> {
            mime.add(read(source));
            drafts.put(id, true);
            return id;
        });
    }

    @Override
    public CompletableFuture<Void> setRecipients(AccountConfig account, String draftId, Recipients r) {
        return call("setRecipients", () -> {
            recipients.put(draftId, r);
            return null;
        });
    }

    @Override
    public CompletableFuture<Void> addAttachment(AccountConfig account, String draftId, AttachmentUpload upload) {
        return call("addAttachment " + upload.name(), () -> null);
    }

    @Override
    public CompletableFuture<Void> sendDraft(AccountConfig account, String draftId) {
        GraphException lost = loseNextSendReply;
        if (lost != null) {
            loseNextSendReply = null;
            calls.add("sendDraft");
            drafts.remove(draftId);
            return CompletableFuture.failedFuture(lost);
        }
        return call("sendDraft", () -> {
            drafts.remove(draftId);
            return null;
        });
    }

    @Override
    public CompletableFuture<Optional<MessageInfo>> message(AccountConfig account, String id) {
        return call("message", () -> drafts.containsKey(id)
                ? Optional.of(new MessageInfo(id, 100, false, true, Instant.EPOCH)) : Optional.empty());
    }

    @Override
    public CompletableFuture<Void> delete(AccountConfig account, String id) {
        return call("delete", () -> {
            drafts.remove(id);
            return null;
        });
    }

    @Override
    public long maxMimeRequestBytes() {
        return maxRequest;
    }

    @Override
    public CompletableFuture<MessagePage> list(AccountConfig a, String folder, boolean unreadOnly, Optional<String> n) {
        throw new UnsupportedOperationException();
    }

    @Override
    public CompletableFuture<Flow.Publisher<List<ByteBuffer>>> download(AccountConfig account, String id) {
        throw new UnsupportedOperationException();
    }

    @Override
    public CompletableFuture<Void> markRead(AccountConfig account, String id) {
        throw new UnsupportedOperationException();
    }

    @Override
    public CompletableFuture<Void> move(AccountConfig account, String id, String destination) {
        throw new UnsupportedOperationException();
    }
}
