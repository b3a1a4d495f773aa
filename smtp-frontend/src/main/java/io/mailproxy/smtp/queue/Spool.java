package io.mailproxy.smtp.queue;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable spool in {@code <state-dir>/spool} (0700; every file 0600). A message is three files:
 * {@code ID.msg} (the message exactly as the client sent it in DATA, dot-stuffed, CRLF line endings, without the
 * final {@code .CRLF}: it goes upstream byte for byte), {@code ID.env} (the {@link Envelope}) and {@code ID.state}
 * (the {@link DeliveryState}). A message exists once its {@code .env} is in the directory, and is gone once its
 * {@code .env} is: recovery removes a {@code .msg} or {@code .state} without an envelope and every {@code .tmp}.
 *
 * <p>Commit order, before the client's {@code 250}: the message is written and fsynced, the envelope is written to
 * a temporary file and fsynced, renamed into place, and the directory fsynced. Messages that end within the
 * fsync window share that directory fsync (group commit). All of it runs on the blocking executor, never on an event
 * loop.
 */
public final class Spool {

    private static final Logger log = LoggerFactory.getLogger(Spool.class);
    private static final FileAttribute<Set<PosixFilePermission>> FILE_MODE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
    private static final FileAttribute<Set<PosixFilePermission>> DIR_MODE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
    private static final String MSG = ".msg";
    private static final String ENV = ".env";
    private static final String STATE = ".state";
    private static final String TMP = ".tmp";

    /** How the spool makes its writes durable; tests hold it back to prove nothing is answered before it. */
    public interface Durability {
        void force(FileChannel file) throws IOException;

        void forceDirectory(Path dir) throws IOException;

        /** Real fsync: {@code FileChannel.force(true)} on the file and on the directory. */
        Durability FSYNC = new Durability() {
            @Override
            public void force(FileChannel file) throws IOException {
                file.force(true);
            }

            @Override
            public void forceDirectory(Path dir) throws IOException {
                try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                    d.force(true);
                }
            }
        };
    }

    /** A message found in the spool at start-up. */
    public record Stored(Envelope envelope, DeliveryState state) { }

    private final Path dir;
    private final long maxSize;
    private final Durability durability;
    private final Executor executor;
    private final Clock clock;
    private final long windowNanos;
    private final AtomicLong used = new AtomicLong();
    private final Map<String, Long> sizes = new java.util.concurrent.ConcurrentHashMap<>();
    private final SecureRandom random = new SecureRandom();
    private final List<Stored> recovered;

    private final Object commitLock = new Object();
    private final List<PendingCommit> pending = new ArrayList<>();
    private boolean flushing;
    private volatile Consumer<Envelope> onCommitted = e -> { };

    /** Leave half-written files alone: a daemon may be writing them (the CLI without the control socket). */
    private final boolean keepOrphans;

    private Spool(Path dir, long maxSize, Durability durability, Executor executor, Clock clock, Duration window,
                  boolean keepOrphans) throws IOException {
        this.dir = dir;
        this.maxSize = maxSize;
        this.durability = durability;
        this.executor = executor;
        this.clock = clock;
        this.windowNanos = window.toNanos();
        this.keepOrphans = keepOrphans;
        this.recovered = recover();
    }

    /**
     * Opens (creating it 0700 if needed) and recovers the spool. Blocking: call at start-up or off the event loop.
     *
     * @param executor runs the writes and fsyncs of accepted messages
     */
    public static Spool open(Path dir, long maxSize, Durability durability, Executor executor, Clock clock,
                             Duration fsyncWindow) throws IOException {
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir.getParent());
            try {
                Files.createDirectory(dir, DIR_MODE);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                // created meanwhile
            }
        }
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        return new Spool(dir, maxSize, durability, executor, clock, fsyncWindow, false);
    }

    /**
     * Opens the spool for {@code queue list/retry/delete} without a daemon: committed messages only; files a
     * daemon might be writing right now (temporary files, a message without its envelope) are left alone.
     */
    static Spool openForAdministration(Path dir, Clock clock) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new java.nio.file.NoSuchFileException(dir + " (no spool: nothing was ever queued here)");
        }
        return new Spool(dir, Long.MAX_VALUE, Durability.FSYNC, Runnable::run, clock, Duration.ZERO, true);
    }

    public Path directory() {
        return dir;
    }

    /** The messages found at start-up, oldest first. */
    public List<Stored> recovered() {
        return recovered;
    }

    /** Called (on the blocking executor) for each message once it is committed. */
    public void onCommitted(Consumer<Envelope> listener) {
        this.onCommitted = listener;
    }

    /** True when no new message may be accepted ({@code 452 4.3.1}). */
    public boolean full() {
        return used.get() >= maxSize;
    }

    public long maxSize() {
        return maxSize;
    }

    public long usedBytes() {
        return used.get();
    }

    // ---------------------------------------------------------------- recovery

    /**
     * Only names of the form this spool gives ({@link #validId} plus a known suffix) are taken: anything else in the
     * directory is left alone with a warning, and no name or envelope field read from disk is ever used to build a
     * path unless it is a valid id (an envelope whose id differs from its file's name is tampered with or corrupt).
     */
    private List<Stored> recover() throws IOException {
        Map<String, Set<String>> byId = new HashMap<>();
        List<Path> temps = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (Path p : files) {
                String name = p.getFileName().toString();
                boolean temp = name.endsWith(TMP);
                String base = temp ? name.substring(0, name.length() - TMP.length()) : name;
                int dot = base.lastIndexOf('.');
                String kind = dot < 0 ? "" : base.substring(dot);
                if (dot <= 0 || !(kind.equals(MSG) || kind.equals(ENV) || kind.equals(STATE))
                        || !validId(base.substring(0, dot))) {
                    log.warn("spool: ignoring {}: not a file this spool writes (left in place)", printable(p));
                    continue;
                }
                if (temp) {
                    temps.add(p);
                    continue;
                }
                byId.computeIfAbsent(base.substring(0, dot), k -> new java.util.HashSet<>()).add(kind);
            }
        }
        if (keepOrphans) {
            temps.clear();
        }
        for (Path t : temps) {
            Files.deleteIfExists(t);
        }
        List<Stored> found = new ArrayList<>();
        boolean removed = !temps.isEmpty();
        for (Map.Entry<String, Set<String>> e : byId.entrySet()) {
            String id = e.getKey();
            Set<String> kinds = e.getValue();
            if (!kinds.contains(ENV) || !kinds.contains(MSG)) {
                if (!keepOrphans && (kinds.contains(MSG) || kinds.contains(STATE) || kinds.contains(ENV))) {
                    log.info("spool: removing {}, a message whose accept did not complete (no 250 was sent for it)",
                            id);
                    removeFiles(id);
                    removed = true;
                }
                continue;
            }
            try {
                Envelope env = Envelope.decode(Files.readAllBytes(file(id, ENV)));
                if (!env.id().equals(id)) {
                    log.warn("spool: skipping {}: it names message id \"{}\", not its own (tampered with or corrupt);"
                            + " left in place, not delivered", printable(file(id, ENV)), printable(env.id()));
                    continue;
                }
                Path statePath = file(id, STATE);
                DeliveryState state = Files.exists(statePath)
                        ? DeliveryState.decode(Files.readAllBytes(statePath)) : DeliveryState.initial(env.received());
                long size = Files.size(file(id, MSG)) + Files.size(file(id, ENV));
                sizes.put(id, size);
                used.addAndGet(size);
                found.add(new Stored(env, state));
            } catch (IOException | RuntimeException ex) {
                // an envelope is renamed into place whole, so this is damage from outside: keep it for a human
                log.warn("spool: skipping {}: cannot read it ({}); left in place, not delivered",
                        printable(file(id, ENV)), printable(ex.toString()));
            }
        }
        if (removed) {
            durability.forceDirectory(dir);
        }
        found.sort(java.util.Comparator.comparing((Stored s) -> s.envelope().received())
                .thenComparing(s -> s.envelope().id()));
        return List.copyOf(found);
    }

    // ---------------------------------------------------------------- accepting a message

    /** Starts a new message; its file is created by the first write. Call on any thread. */
    public Writer newMessage() {
        return new Writer(newId());
    }

    String newId() {
        byte[] r = new byte[5];
        random.nextBytes(r);
        StringBuilder sb = new StringBuilder(Long.toString(clock.millis(), 36).toUpperCase(Locale.ROOT)).append('-');
        for (byte b : r) {
            sb.append(Character.toUpperCase(Character.forDigit((b >> 4) & 15, 16)))
                    .append(Character.toUpperCase(Character.forDigit(b & 15, 16)));
        }
        return sb.toString();
    }

    /** True for the form of ids this spool hands out (so a CLI argument can never name another file). */
    public static boolean validId(String id) {
        return id != null && VALID_ID.matcher(id).matches();
    }

    private static final java.util.regex.Pattern VALID_ID =
            java.util.regex.Pattern.compile("[0-9A-Z]{1,13}-[0-9A-F]{10}(-DSN)?");

    /**
     * One message being received: its writes run one after another on the blocking executor. Every method is
     * called from the session's event loop; futures complete on the executor.
     */
    public final class Writer {
        private final String id;
        private CompletableFuture<Void> tail = CompletableFuture.completedFuture(null);
        private FileChannel channel;
        private long written;
        private volatile boolean overflow;
        private volatile boolean ended;
        /** A write failed: the message is incomplete and must never be committed. */
        private volatile boolean failed;

        private Writer(String id) {
            this.id = id;
        }

        public String id() {
            return id;
        }

        /** True once the spool's size limit stopped this message; nothing more is written. */
        public boolean overflowed() {
            return overflow;
        }

        /** Appends {@code chunk} (ownership taken); the future fails with an IOException when the write failed. */
        public CompletableFuture<Void> write(ByteBuf chunk) {
            return chain(() -> {
                try {
                    if (overflow || ended) {
                        return;
                    }
                    int n = chunk.readableBytes();
                    if (used.addAndGet(n) > maxSize) {
                        used.addAndGet(-n);
                        overflow = true;
                        return;
                    }
                    written += n;
                    sizes.merge(id, (long) n, Long::sum);
                    if (channel == null) {
                        channel = FileChannel.open(file(id, MSG), Set.of(StandardOpenOption.CREATE_NEW,
                                StandardOpenOption.WRITE), FILE_MODE);
                    }
                    for (ByteBuffer b : chunk.nioBuffers()) {
                        while (b.hasRemaining()) {
                            channel.write(b);
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    failed = true;
                    throw e;
                } finally {
                    chunk.release();
                }
            }, chunk::release);
        }

        /**
         * Makes the message durable with its envelope (fields as {@link Envelope}, without id, time and size);
         * completes once the message and its envelope are fsynced and in the directory.
         */
        public CompletableFuture<Envelope> commit(String account, String client, String mailFrom, String clientFrom,
                                                  List<String> parameters, List<String> recipients) {
            CompletableFuture<Envelope> done = new CompletableFuture<>();
            chain(() -> {
                if (overflow) {
                    throw new IOException("spool full");
                }
                if (failed) {
                    throw new IOException("an earlier write of this message failed");
                }
                ended = true;
                if (channel == null) { // an empty message
                    channel = FileChannel.open(file(id, MSG), Set.of(StandardOpenOption.CREATE_NEW,
                            StandardOpenOption.WRITE), FILE_MODE);
                }
                durability.force(channel);
                channel.close();
                Envelope env = new Envelope(id, account, client, mailFrom, clientFrom, parameters, recipients,
                        clock.instant(), written);
                byte[] bytes = env.encode();
                used.addAndGet(bytes.length);
                sizes.merge(id, (long) bytes.length, Long::sum);
                writeFile(file(id, ENV + TMP), bytes);
                joinGroupCommit(new PendingCommit(env, done));
            }, () -> { }).whenComplete((v, failure) -> {
                if (failure != null) {
                    done.completeExceptionally(failure);
                    abort();
                }
            });
            return done;
        }

        /** Drops the message (DATA aborted, client gone, spool full): nothing of it stays behind. */
        public void abort() {
            chain(() -> {
                ended = true;
                if (channel != null) {
                    channel.close();
                }
                removeFiles(id);
            }, () -> { });
        }

        private CompletableFuture<Void> chain(IoTask task, Runnable onRejected) {
            CompletableFuture<Void> next = new CompletableFuture<>();
            tail.whenComplete((v, e) -> {
                try {
                    executor.execute(() -> {
                        try {
                            task.run();
                            next.complete(null);
                        } catch (IOException | RuntimeException ex) {
                            next.completeExceptionally(ex);
                        }
                    });
                } catch (RejectedExecutionException ex) {
                    onRejected.run();
                    next.completeExceptionally(new IOException("shutting down"));
                }
            });
            tail = next.exceptionally(e -> null);
            return next;
        }
    }

    @FunctionalInterface
    private interface IoTask {
        void run() throws IOException;
    }

    private record PendingCommit(Envelope envelope, CompletableFuture<Envelope> done) { }

    /** Group commit: the first message in becomes the leader, waits the window, and fsyncs the directory for all. */
    private void joinGroupCommit(PendingCommit commit) {
        synchronized (commitLock) {
            pending.add(commit);
            if (flushing) {
                return;
            }
            flushing = true;
        }
        if (windowNanos > 0) {
            java.util.concurrent.locks.LockSupport.parkNanos(windowNanos);
        }
        while (true) {
            List<PendingCommit> batch;
            synchronized (commitLock) {
                if (pending.isEmpty()) {
                    flushing = false;
                    return;
                }
                batch = new ArrayList<>(pending);
                pending.clear();
            }
            List<PendingCommit> renamed = new ArrayList<>();
            IOException failure = null;
            for (PendingCommit p : batch) {
                String id = p.envelope().id();
                try {
                    move(file(id, ENV + TMP), file(id, ENV));
                    renamed.add(p);
                } catch (IOException | RuntimeException e) {
                    p.done().completeExceptionally(e);
                    removeQuietly(id);
                }
            }
            try {
                durability.forceDirectory(dir);
            } catch (IOException e) {
                failure = e;
            } catch (RuntimeException e) {
                // never leave the leader's flag set: every later commit would wait for ever
                failure = new IOException("directory fsync failed: " + e, e);
            }
            for (PendingCommit p : renamed) {
                if (failure != null) {
                    removeQuietly(p.envelope().id());
                    p.done().completeExceptionally(failure);
                } else {
                    p.done().complete(p.envelope());
                    try {
                        onCommitted.accept(p.envelope());
                    } catch (RuntimeException e) {
                        log.error("spool: commit listener failed: {}", e.toString());
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- the worker's side

    /**
     * Stores a complete message (a bounce) durably in one go: blocking, off the event loop. {@code stuffed} is
     * the message dot-stuffed with CRLF line endings.
     */
    Envelope store(String id, String account, String mailFrom, List<String> recipients, byte[] stuffed)
            throws IOException {
        if (Files.exists(file(id, ENV))) {
            Envelope existing = Envelope.decode(Files.readAllBytes(file(id, ENV)));
            if (!existing.id().equals(id)) {
                throw new IOException(file(id, ENV) + " names another message id (tampered with or corrupt)");
            }
            return existing;
        }
        Envelope env = new Envelope(id, account, "mailproxy", mailFrom, mailFrom, List.of(), recipients,
                clock.instant(), stuffed.length);
        byte[] bytes = env.encode();
        writeFile(file(id, MSG + TMP), stuffed);
        move(file(id, MSG + TMP), file(id, MSG));
        writeFile(file(id, ENV + TMP), bytes);
        move(file(id, ENV + TMP), file(id, ENV));
        durability.forceDirectory(dir);
        used.addAndGet(stuffed.length + bytes.length);
        sizes.put(id, (long) stuffed.length + bytes.length);
        return env;
    }

    /** Records a message's delivery state atomically (temporary file, fsync, rename, directory fsync). */
    void writeState(String id, DeliveryState state) throws IOException {
        writeFile(file(id, STATE + TMP), state.encode());
        move(file(id, STATE + TMP), file(id, STATE));
        durability.forceDirectory(dir);
    }

    /** Reads a message as stored (dot-stuffed). */
    FileChannel openMessage(String id) throws IOException {
        return FileChannel.open(file(id, MSG), StandardOpenOption.READ);
    }

    /** The message file (dot-stuffed), for readers that open it themselves (Graph's client, on its own threads). */
    Path messagePath(String id) {
        return file(id, MSG);
    }

    InputStream messageStream(String id) throws IOException {
        return Files.newInputStream(file(id, MSG));
    }

    boolean exists(String id) {
        return Files.exists(file(id, ENV));
    }

    /**
     * Ends a message durably (delivered, bounced or deleted): its envelope goes first and the directory is fsynced,
     * so a crash afterwards cannot bring it back; then the rest.
     */
    void retire(String id) throws IOException {
        Files.deleteIfExists(file(id, ENV));
        durability.forceDirectory(dir);
        removeFiles(id);
    }

    private void removeFiles(String id) throws IOException {
        for (String ext : new String[] {ENV, STATE, MSG, ENV + TMP, STATE + TMP, MSG + TMP}) {
            Files.deleteIfExists(file(id, ext));
        }
        Long size = sizes.remove(id);
        if (size != null) {
            used.addAndGet(-size);
        }
    }

    private void removeQuietly(String id) {
        try {
            removeFiles(id);
        } catch (IOException e) {
            log.warn("spool: cannot remove {}: {}", id, e.toString());
        }
    }

    /** The one place a path is made from an id: only ids of the spool's own form ({@link #validId}). */
    private Path file(String id, String ext) {
        if (!validId(id)) {
            throw new IllegalArgumentException("not a spool message id: " + printable(id));
        }
        return dir.resolve(id + ext);
    }

    /** Text from disk made safe for one log line. */
    private static String printable(Object value) {
        String s = String.valueOf(value);
        s = s.length() > 200 ? s.substring(0, 200) + "..." : s;
        return s.replaceAll("\\p{Cntrl}", "?");
    }

    private void writeFile(Path path, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(path, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING), FILE_MODE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            durability.force(ch);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException | NoSuchFileException e) {
            throw new IOException("cannot rename " + from.getFileName() + " into place: " + e, e);
        }
    }
}
