package io.mailproxy.core.credentials;

import io.mailproxy.core.AdminCommand;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The secret store: one file in state-dir ({@value #FILE_NAME}), AES-256-GCM with a fresh 96-bit nonce per write.
 *
 * <p>File format, version 1: {@code "MPSS"}, a version byte, an 8-byte key check (HMAC-SHA256 of a fixed label
 * under the master key, so a wrong key is told apart from a damaged file), the 12-byte nonce, then the ciphertext
 * and 16-byte tag of the entries. The header (magic, version, key check) and the file's purpose are bound into the
 * GCM additional data. Entries: a count, then name and value as length-prefixed UTF-8.
 *
 * <p>Writes are atomic (temp file, fsync, rename, fsync of the directory) under an in-process lock and an
 * exclusive {@link FileLock} on {@value #LOCK_NAME}, and re-read the file under the lock first, so two stores or two
 * processes on the same directory never lose each other's writes. Reads re-read the file when it changed.
 * Values never appear in exceptions or logs.
 */
public final class FileSecretStore implements SecretStore {
    public static final String FILE_NAME = "secrets.v1";
    static final String LOCK_NAME = "secrets.lock";
    static final byte[] MAGIC = {'M', 'P', 'S', 'S'};
    static final byte VERSION = 1;
    private static final int KEY_CHECK_LENGTH = 8;
    private static final int NONCE_LENGTH = 12;
    private static final int TAG_BITS = 128;
    static final int HEADER_LENGTH = MAGIC.length + 1 + KEY_CHECK_LENGTH + NONCE_LENGTH;
    private static final byte[] PURPOSE = "mailproxy secret store".getBytes(StandardCharsets.US_ASCII);
    private static final int MAX_FILE_BYTES = 16 * 1024 * 1024;

    /**
     * FileLock is held per JVM, not per thread or channel: a second channel in the same JVM would get an
     * OverlappingFileLockException. So stores on the same file share one JVM-wide lock, keyed by real path.
     */
    private static final Map<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

    private final Path file;
    private final Path lockFile;
    private final SecretKeySpec key;
    private final String keySource;
    private final byte[] keyCheck;
    private final SecureRandom random;
    private final ReentrantLock lock;

    private final Object cacheLock = new Object();
    private Object cachedVersion;
    private Map<String, String> cached = Map.of();

    private FileSecretStore(Path stateDir, MasterKey masterKey, SecureRandom random) {
        this.file = stateDir.resolve(FILE_NAME);
        this.lockFile = stateDir.resolve(LOCK_NAME);
        byte[] raw = masterKey.bytes();
        this.key = new SecretKeySpec(raw, "AES");
        this.keyCheck = keyCheck(raw);
        Arrays.fill(raw, (byte) 0);
        this.keySource = masterKey.source();
        this.random = random;
        Path real;
        try {
            real = stateDir.toRealPath().resolve(FILE_NAME);
        } catch (IOException e) {
            real = file.toAbsolutePath().normalize();
        }
        this.lock = JVM_LOCKS.computeIfAbsent(real, p -> new ReentrantLock());
    }

    /**
     * Opens (and on first use creates) the store in {@code stateDir}. {@code env} is the process environment
     * ({@code CREDENTIALS_DIRECTORY}, {@code MAILPROXY_MASTER_KEY}); tests pass their own.
     *
     * @throws SecretStoreException when the store or key file is readable by group or others, the key is
     *                              malformed or does not match the store, or the store is damaged
     */
    public static FileSecretStore open(Path stateDir, Map<String, String> env) {
        return open(stateDir, env, new SecureRandom());
    }

    public static FileSecretStore open(Path stateDir, Map<String, String> env, SecureRandom random) {
        Objects.requireNonNull(env, "env");
        try {
            if (!Files.isDirectory(stateDir)) {
                if (FilePermissions.posix(stateDir.toAbsolutePath().getParent())) {
                    Files.createDirectories(stateDir, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                            java.nio.file.attribute.PosixFilePermissions.fromString("rwx------")));
                } else {
                    Files.createDirectories(stateDir);
                }
            }
        } catch (IOException e) {
            throw new SecretStoreException("cannot create state directory " + stateDir + ": " + e.getMessage(), e);
        }
        MasterKey masterKey = MasterKey.load(stateDir, env, random, Files.exists(stateDir.resolve(FILE_NAME)));
        FileSecretStore store = new FileSecretStore(stateDir, masterKey, random);
        if (Files.exists(store.file)) {
            FilePermissions.requirePrivate(store.file, "secret store");
            store.snapshot(); // fails now, at start-up, on a wrong key or a damaged file
        }
        return store;
    }

    /** The store file. */
    public Path file() {
        return file;
    }

    /** Where the master key came from (a file name or an environment variable's name; never the key). */
    public String keySource() {
        return keySource;
    }

    @Override
    public Optional<String> get(String name) {
        return Optional.ofNullable(snapshot().get(name));
    }

    @Override
    public List<String> names() {
        return new ArrayList<>(snapshot().keySet());
    }

    @Override
    public void put(String name, String value) {
        requireName(name);
        Objects.requireNonNull(value, "value");
        update(entries -> {
            entries.put(name, value);
            return entries;
        });
    }

    @Override
    public boolean delete(String name) {
        boolean[] removed = {false};
        update(entries -> {
            removed[0] = entries.remove(name) != null;
            return entries;
        });
        return removed[0];
    }

    /**
     * Replaces {@code name}'s value only if it is still {@code expected} (compare-and-set under the file lock), for
     * refresh-token rotation racing a {@code login}. Returns whether it was replaced.
     */
    public boolean replace(String name, String expected, String value) {
        requireName(name);
        boolean[] replaced = {false};
        update(entries -> {
            if (Objects.equals(entries.get(name), expected)) {
                entries.put(name, value);
                replaced[0] = true;
            }
            return entries;
        });
        return replaced[0];
    }

    private static void requireName(String name) {
        if (name == null || name.isEmpty() || name.length() > 1024 || name.chars().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("a secret name is 1 to 1024 printable characters");
        }
    }

    private void update(UnaryOperator<TreeMap<String, String>> change) {
        lock.lock();
        try (FileChannel lockChannel = openLockFile()) {
            FileLock fileLock = lockChannel.lock(); // another process's store waits here; released with the channel
            try {
                Read current = read();
                TreeMap<String, String> next = change.apply(new TreeMap<>(current.entries));
                AtomicFiles.write(file, encrypt(next));
                synchronized (cacheLock) {
                    cachedVersion = version();
                    cached = Collections.unmodifiableMap(new TreeMap<>(next));
                }
            } finally {
                fileLock.release();
            }
        } catch (IOException e) {
            throw new SecretStoreException("cannot write secret store " + file + ": " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
    }

    private FileChannel openLockFile() throws IOException {
        Set<StandardOpenOption> options = Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        return FilePermissions.posix(lockFile.toAbsolutePath().getParent())
                ? FileChannel.open(lockFile, options, FilePermissions.ownerOnly())
                : FileChannel.open(lockFile, options);
    }

    private Map<String, String> snapshot() {
        synchronized (cacheLock) {
            Object version = version();
            if (version != null && version.equals(cachedVersion)) {
                return cached;
            }
            Read read = read();
            cachedVersion = read.version;
            cached = Collections.unmodifiableMap(read.entries);
            return cached;
        }
    }

    private record Read(Object version, TreeMap<String, String> entries) { }

    /** A cheap fingerprint of the file (inode, size, mtime); the atomic rename gives each write a new inode. */
    private Object version() {
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return List.of(String.valueOf(a.fileKey()), a.size(), a.lastModifiedTime()); // mtime in ns on Linux
        } catch (IOException e) {
            return null;
        }
    }

    private Read read() {
        for (int attempt = 0; ; attempt++) {
            Object before = version();
            byte[] content;
            try {
                if (Files.size(file) > MAX_FILE_BYTES) {
                    throw new SecretStoreException("secret store " + file + " is larger than " + MAX_FILE_BYTES
                            + " bytes; it is not a mailproxy secret store");
                }
                content = Files.readAllBytes(file);
            } catch (NoSuchFileException e) {
                return new Read(null, new TreeMap<>());
            } catch (IOException e) {
                throw new SecretStoreException("cannot read secret store " + file + ": " + e.getMessage(), e);
            }
            Object after = version();
            if (Objects.equals(before, after) || attempt > 3) {
                return new Read(after, decrypt(content));
            }
        }
    }

    byte[] encrypt(Map<String, String> entries) {
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(plain)) {
            out.writeInt(entries.size());
            for (Map.Entry<String, String> e : entries.entrySet()) {
                writeString(out, e.getKey());
                writeString(out, e.getValue());
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        byte[] nonce = new byte[NONCE_LENGTH];
        random.nextBytes(nonce);
        byte[] plaintext = plain.toByteArray();
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            cipher.updateAAD(aad());
            byte[] sealed = cipher.doFinal(plaintext);
            ByteBuffer buf = ByteBuffer.allocate(HEADER_LENGTH + sealed.length);
            buf.put(MAGIC).put(VERSION).put(keyCheck).put(nonce).put(sealed);
            return buf.array();
        } catch (GeneralSecurityException e) {
            throw new SecretStoreException("cannot encrypt the secret store: " + e.getClass().getSimpleName(), e);
        } finally {
            Arrays.fill(plaintext, (byte) 0);
        }
    }

    TreeMap<String, String> decrypt(byte[] content) {
        if (content.length < HEADER_LENGTH + TAG_BITS / 8 || !Arrays.equals(content, 0, MAGIC.length, MAGIC, 0, MAGIC.length)) {
            throw new SecretStoreException("secret store " + file + " is not a mailproxy secret store (bad header);"
                    + " restore it from a backup, or move it away and store the secrets again with "
                    + AdminCommand.of("secret set"));
        }
        if (content[MAGIC.length] != VERSION) {
            throw new SecretStoreException("secret store " + file + " has format version " + content[MAGIC.length]
                    + ", this mailproxy reads version " + VERSION + "; use the mailproxy version that wrote it");
        }
        int checkAt = MAGIC.length + 1;
        if (!MessageDigest.isEqual(Arrays.copyOfRange(content, checkAt, checkAt + KEY_CHECK_LENGTH), keyCheck)) {
            throw new SecretStoreException("secret store " + file + " was written with a different master key than"
                    + " the one from " + keySource + "; supply the original key (systemd credential "
                    + MasterKey.CREDENTIAL_NAME + ", " + MasterKey.ENV_NAME + " or " + MasterKey.KEY_FILE + ")");
        }
        byte[] nonce = Arrays.copyOfRange(content, checkAt + KEY_CHECK_LENGTH, HEADER_LENGTH);
        byte[] plaintext;
        try {
            Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
            cipher.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BITS, nonce));
            cipher.updateAAD(aad());
            plaintext = cipher.doFinal(content, HEADER_LENGTH, content.length - HEADER_LENGTH);
        } catch (AEADBadTagException e) {
            throw new SecretStoreException("secret store " + file + " failed its integrity check: it was modified"
                    + " or damaged; restore it from a backup, or move it away and store the secrets again");
        } catch (GeneralSecurityException e) {
            throw new SecretStoreException("cannot decrypt secret store " + file + ": " + e.getClass().getSimpleName(), e);
        }
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(plaintext))) {
            int count = in.readInt();
            TreeMap<String, String> entries = new TreeMap<>();
            for (int i = 0; i < count; i++) {
                entries.put(readString(in), readString(in));
            }
            return entries;
        } catch (EOFException | IllegalArgumentException e) {
            throw new SecretStoreException("secret store " + file + " is malformed inside; restore it from a backup");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } finally {
            Arrays.fill(plaintext, (byte) 0);
        }
    }

    private static byte[] aad() {
        ByteBuffer buf = ByteBuffer.allocate(MAGIC.length + 1 + PURPOSE.length);
        return buf.put(MAGIC).put(VERSION).put(PURPOSE).array();
    }

    private static byte[] keyCheck(byte[] rawKey) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(rawKey, "HmacSHA256"));
            return Arrays.copyOf(mac.doFinal("mailproxy secret store key check v1".getBytes(StandardCharsets.US_ASCII)),
                    KEY_CHECK_LENGTH);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in) throws IOException {
        int len = in.readInt();
        if (len < 0 || len > MAX_FILE_BYTES) {
            throw new IllegalArgumentException("bad length");
        }
        return new String(in.readNBytes(len), StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return "FileSecretStore[" + file + ", key from " + keySource + "]";
    }
}
