package io.mailproxy.testkit.graph;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One Exchange mailbox behind the fake Graph: folders (the well-known ones and user folders), messages, what was
 * sent from it, and what was soft-deleted. Thread-safe; HTTP handlers and tests share it.
 */
public final class GraphMailbox {
    /** Well-known folders every mailbox has (a subset of MGDC resources/mailfolder.md's list). */
    static final List<String> WELL_KNOWN = List.of("inbox", "drafts", "sentitems", "deleteditems", "archive",
            "junkemail", "outbox");
    private static final Map<String, String> DISPLAY = Map.of("inbox", "Inbox", "drafts", "Drafts",
            "sentitems", "Sent Items", "deleteditems", "Deleted Items", "archive", "Archive",
            "junkemail", "Junk Email", "outbox", "Outbox");

    private final String address;
    private final FakeGraph graph;
    private final Map<String, GraphFolder> folders = new LinkedHashMap<>();
    private final Map<String, GraphMessage> messages = new LinkedHashMap<>();
    private final List<GraphMessage> recoverable = new ArrayList<>();
    private final List<SentMessage> sent = new CopyOnWriteArrayList<>();
    private final AtomicLong sequence = new AtomicLong();
    final Set<String> fullAccess = ConcurrentHashMap.newKeySet();
    final Map<String, AtomicInteger> inFlightByApp = new ConcurrentHashMap<>();
    private final AtomicInteger highWater = new AtomicInteger();
    volatile boolean restEnabled = true;
    private final String rootId;

    GraphMailbox(String address, FakeGraph graph) {
        this.address = address.toLowerCase(Locale.ROOT);
        this.graph = graph;
        rootId = graph.ids.folder();
        folders.put(rootId, new GraphFolder(rootId, "Top of Information Store", null, "msgfolderroot"));
        for (String name : WELL_KNOWN) {
            String id = graph.ids.folder();
            folders.put(id, new GraphFolder(id, DISPLAY.get(name), rootId, name));
        }
    }

    public String address() {
        return address;
    }

    // ------------------------------------------------------------------------------------------- set-up

    /** Delivers a message into the Inbox, unread. */
    public GraphMessage deliver(byte[] mime) {
        return deliver(mime, false, "inbox");
    }

    /**
     * Delivers a message as Exchange would store an incoming one.
     *
     * @param folder a well-known name ({@code inbox}, {@code archive} ...) or a path of display names
     *               ({@code Projects/2026}), created when missing
     */
    public GraphMessage deliver(byte[] mime, boolean read, String folder) {
        return store(mime.clone(), null, read, folder);
    }

    /** Delivers a message kept in a file (read when served: for messages too big to hold in a test's heap). */
    public GraphMessage deliver(Path file, boolean read, String folder) {
        return store(null, file, read, folder);
    }

    private GraphMessage store(byte[] mime, Path file, boolean read, String folder) {
        MimeHeaders headers;
        if (mime != null) {
            headers = MimeHeaders.parse(mime);
        } else {
            try (var in = java.nio.file.Files.newInputStream(file)) {
                headers = MimeHeaders.parse(in);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        synchronized (this) {
            String folderId = folderId(folder, true);
            GraphMessage m = new GraphMessage(graph.ids.message(), mime, file, headers, folderId, read, false,
                    receivedNow(), sequence.incrementAndGet());
            messages.put(m.id(), m);
            return m;
        }
    }

    /** The folder's id for a well-known name or a path of display names, creating the path when missing. */
    public synchronized String folder(String nameOrPath) {
        return folderId(nameOrPath, true);
    }

    /** Graph answers every request for this mailbox with 404 MailboxNotEnabledForRESTAPI (no Exchange Online licence). */
    public GraphMailbox disableRest() {
        restEnabled = false;
        return this;
    }

    /** A delegated user who may open this mailbox with the {@code .Shared} scopes (Full Access in Exchange). */
    public GraphMailbox grantFullAccess(String user) {
        fullAccess.add(user.toLowerCase(Locale.ROOT));
        return this;
    }

    // ------------------------------------------------------------------------------------------- observations

    /** The messages in a folder (well-known name or path), oldest first. */
    public synchronized List<GraphMessage> messages(String folder) {
        String id = folderId(folder, false);
        return inFolder(id);
    }

    /** The drafts (the Drafts folder's messages), oldest first. */
    public List<GraphMessage> drafts() {
        return messages("drafts");
    }

    /** What Graph accepted for sending from this mailbox, oldest first. */
    public List<SentMessage> sent() {
        return List.copyOf(sent);
    }

    /** Messages soft-deleted with {@code DELETE} (Recoverable Items, not Deleted Items). */
    public synchronized List<GraphMessage> recoverableItems() {
        return List.copyOf(recoverable);
    }

    public synchronized Optional<GraphMessage> message(String id) {
        return Optional.ofNullable(messages.get(id));
    }

    /** The most requests that were in flight at once for this mailbox (any one app). */
    public int concurrencyHighWater() {
        return highWater.get();
    }

    // ------------------------------------------------------------------------------------------- package

    Instant receivedNow() {
        return graph.now();
    }

    synchronized List<GraphMessage> inFolder(String folderId) {
        List<GraphMessage> out = new ArrayList<>();
        for (GraphMessage m : messages.values()) {
            if (m.folderId().equals(folderId)) {
                out.add(m);
            }
        }
        out.sort(Comparator.comparing(GraphMessage::received).thenComparingLong(GraphMessage::sequence));
        return out;
    }

    /** A folder id, a well-known name, or (when {@code create}) a path; null when unknown. */
    synchronized String folderId(String nameOrPath, boolean create) {
        if (folders.containsKey(nameOrPath)) {
            return nameOrPath;
        }
        String lower = nameOrPath.toLowerCase(Locale.ROOT);
        for (GraphFolder f : folders.values()) {
            if (lower.equals(f.wellKnownName())) {
                return f.id();
            }
        }
        String parent = rootId;
        for (String part : nameOrPath.split("/")) {
            if (part.isEmpty()) {
                continue;
            }
            Optional<GraphFolder> child = children(parent).stream()
                    .filter(f -> f.displayName().equalsIgnoreCase(part)).findFirst();
            if (child.isPresent()) {
                parent = child.get().id();
            } else if (create) {
                String id = graph.ids.folder();
                folders.put(id, new GraphFolder(id, part, parent, null));
                parent = id;
            } else {
                return null;
            }
        }
        return parent.equals(rootId) && !"msgfolderroot".equals(lower) ? null : parent;
    }

    /** A folder id or a well-known name (what {@code destinationId} and the {@code mailFolders/{id}} segment take). */
    synchronized String folderIdOrWellKnown(String idOrName) {
        if (folders.containsKey(idOrName)) {
            return idOrName;
        }
        String lower = idOrName.toLowerCase(Locale.ROOT);
        for (GraphFolder f : folders.values()) {
            if (lower.equals(f.wellKnownName())) {
                return f.id();
            }
        }
        return null;
    }

    List<GraphMessage> recoverableItemsInternal() {
        return recoverable;
    }

    synchronized GraphFolder folderById(String id) {
        return folders.get(id);
    }

    synchronized List<GraphFolder> children(String parentId) {
        return folders.values().stream().filter(f -> parentId.equals(f.parentId())).toList();
    }

    String rootId() {
        return rootId;
    }

    synchronized GraphMessage createDraft(byte[] mime, MimeHeaders headers) {
        GraphMessage m = new GraphMessage(graph.ids.message(), mime, null, headers, folderId("drafts", false), true,
                true, graph.now(), sequence.incrementAndGet());
        messages.put(m.id(), m);
        return m;
    }

    /** Records a send and saves the copy in Sent Items (MGDC api-reference/v1.0/api/message-send.md). */
    synchronized SentMessage recordSend(byte[] mime, MimeHeaders headers, GraphMessage draft) {
        List<EmailAddress> to = draft == null ? headers.to() : draft.toRecipients();
        List<EmailAddress> cc = draft == null ? headers.cc() : draft.ccRecipients();
        List<EmailAddress> bcc = draft == null ? headers.bcc() : draft.bccRecipients();
        SentMessage s = new SentMessage(address, mime, addresses(to), addresses(cc), addresses(bcc), draft != null,
                draft == null ? List.of() : draft.attachments(), graph.now());
        sent.add(s);
        GraphMessage copy;
        if (draft != null) {
            messages.remove(draft.id());
            String id = graph.sentCopyKeepsId ? draft.id() : graph.ids.message();
            copy = new GraphMessage(id, mime, null, headers, folderId("sentitems", false), true, false,
                    graph.now(), sequence.incrementAndGet());
            copy.recipients(Optional.of(to), Optional.of(cc), Optional.of(bcc), graph.now());
            copy.attachments.addAll(draft.attachments());
        } else {
            copy = new GraphMessage(graph.ids.message(), mime, null, headers, folderId("sentitems", false), true, false,
                    graph.now(), sequence.incrementAndGet());
        }
        messages.put(copy.id(), copy);
        return s;
    }

    synchronized boolean softDelete(String id) {
        GraphMessage m = messages.remove(id);
        if (m == null) {
            return false;
        }
        recoverable.add(m);
        return true;
    }

    void inFlight(int n) {
        highWater.accumulateAndGet(n, Math::max);
    }

    private static List<String> addresses(List<EmailAddress> list) {
        return list.stream().map(EmailAddress::address).toList();
    }

    @Override
    public String toString() {
        return "GraphMailbox[" + address + "]";
    }
}
