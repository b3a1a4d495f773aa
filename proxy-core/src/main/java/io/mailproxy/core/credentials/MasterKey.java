package io.mailproxy.core.credentials;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Map;

/**
 * The 32-byte AES key of the secret store and where it came from. Sources, first found wins: systemd's
 * {@code $CREDENTIALS_DIRECTORY/mailproxy-master-key} (raw 32 bytes, base64 or hex), the environment variable
 * {@code MAILPROXY_MASTER_KEY} (base64 or hex), else a key file in state-dir made with mode 0600 on first use.
 */
final class MasterKey {
    static final String CREDENTIAL_NAME = "mailproxy-master-key";
    static final String ENV_NAME = "MAILPROXY_MASTER_KEY";
    static final String KEY_FILE = "master.key";
    static final int LENGTH = 32;

    private final byte[] key;
    private final String source;

    private MasterKey(byte[] key, String source) {
        this.key = key;
        this.source = source;
    }

    byte[] bytes() {
        return key.clone();
    }

    /** Where the key came from, for messages ("environment variable MAILPROXY_MASTER_KEY", a file name). */
    String source() {
        return source;
    }

    /**
     * @param storeExists a store file is already there: then a missing key is an error, never a reason to make a
     *                    new key (which could not open it, and would shadow the real one when it is restored)
     */
    static MasterKey load(Path stateDir, Map<String, String> env, SecureRandom random, boolean storeExists) {
        String credentialsDir = env.get("CREDENTIALS_DIRECTORY");
        if (credentialsDir != null && !credentialsDir.isBlank()) {
            Path file = Path.of(credentialsDir, CREDENTIAL_NAME);
            if (Files.isRegularFile(file)) {
                return new MasterKey(decodeFile(file), "systemd credential " + file);
            }
        }
        String fromEnv = env.get(ENV_NAME);
        if (fromEnv != null && !fromEnv.isBlank()) {
            byte[] key = decodeText(fromEnv.trim());
            if (key == null) {
                throw new SecretStoreException("environment variable " + ENV_NAME + " is not a 32-byte key in base64"
                        + " or hex (make one with: head -c 32 /dev/urandom | base64)");
            }
            return new MasterKey(key, "environment variable " + ENV_NAME);
        }
        Path file = stateDir.resolve(KEY_FILE);
        if (!Files.exists(file)) {
            if (storeExists) {
                throw new SecretStoreException("secret store " + stateDir.resolve(FileSecretStore.FILE_NAME)
                        + " exists but its master key was not found: restore " + file + ", or provide the key as the"
                        + " systemd credential " + CREDENTIAL_NAME + " or in " + ENV_NAME);
            }
            create(file, random);
        }
        FilePermissions.requirePrivate(file, "master key file");
        return new MasterKey(decodeFile(file), "key file " + file);
    }

    private static void create(Path file, SecureRandom random) {
        byte[] key = new byte[LENGTH];
        random.nextBytes(key);
        byte[] text = (Base64.getEncoder().encodeToString(key) + "\n").getBytes(StandardCharsets.US_ASCII);
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), KEY_FILE, ".tmp", FilePermissions.ownerOnly());
            try {
                Files.write(tmp, text);
                AtomicFiles.fsync(tmp);
                // link, not rename: never overwrite a key another process made at the same moment
                try {
                    Files.createLink(file, tmp);
                } catch (UnsupportedOperationException | java.nio.file.FileSystemException noLinks) {
                    if (noLinks instanceof FileAlreadyExistsException raced) {
                        throw raced;
                    }
                    Files.move(tmp, file); // fails with FileAlreadyExistsException rather than replace
                }
                AtomicFiles.fsyncDirectory(file.getParent());
            } catch (FileAlreadyExistsException raced) {
                // another process created it first: use theirs
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (UnsupportedOperationException e) {
            throw new SecretStoreException("cannot create master key file " + file
                    + " with owner-only permissions on this file system; set " + ENV_NAME + " instead", e);
        } catch (IOException e) {
            throw new SecretStoreException("cannot create master key file " + file + ": " + e.getMessage(), e);
        } finally {
            Arrays.fill(key, (byte) 0);
        }
    }

    private static byte[] decodeFile(Path file) {
        byte[] raw;
        try {
            raw = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new SecretStoreException("cannot read master key " + file + ": " + e.getMessage(), e);
        }
        if (raw.length == LENGTH) {
            return raw;
        }
        byte[] key = decodeText(new String(raw, StandardCharsets.US_ASCII).trim());
        if (key == null) {
            throw new SecretStoreException("master key " + file + " is not a 32-byte key (raw, base64 or hex)");
        }
        return key;
    }

    private static byte[] decodeText(String text) {
        if (text.length() == LENGTH * 2 && text.chars().allMatch(c -> Character.digit(c, 16) >= 0)) {
            return HexFormat.of().parseHex(text);
        }
        try {
            byte[] key = Base64.getDecoder().decode(text);
            return key.length == LENGTH ? key : null;
        } catch (IllegalArgumentException e) {
            try {
                byte[] key = Base64.getUrlDecoder().decode(text);
                return key.length == LENGTH ? key : null;
            } catch (IllegalArgumentException e2) {
                return null;
            }
        }
    }

    @Override
    public String toString() {
        return "MasterKey[****, from " + source + "]";
    }
}
