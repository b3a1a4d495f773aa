package io.mailproxy.core.identity;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Argon2id password hashes in the PHC string format,
 * {@code $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>} (base64 without padding), as {@code ./mailproxy
 * hash-password} prints them and client entries hold them.
 *
 * <p>New hashes use OWASP's recommended minimum for Argon2id: 19 MiB of memory, 2 passes, 1 lane, a 16-byte random
 * salt and a 32-byte tag. Verification honours the parameters stored in the string, within bounds that keep one run
 * affordable ({@link #MAX_MEMORY_KIB}).
 *
 * <p>Each call runs Argon2 on the calling thread and takes tens of milliseconds: never call it on an event loop
 * ({@link LocalIdentities} runs it on its own bounded executor).
 */
public final class PasswordHasher {

    /** m: memory per run in KiB (19 MiB). */
    public static final int MEMORY_KIB = 19 * 1024;
    /** t: passes over memory. */
    public static final int ITERATIONS = 2;
    /** p: lanes. */
    public static final int PARALLELISM = 1;
    /** Upper bound accepted for m when verifying (256 MiB): a hash cannot make one login take the heap. */
    public static final int MAX_MEMORY_KIB = 256 * 1024;
    static final int MAX_ITERATIONS = 64;
    static final int MAX_PARALLELISM = 16;
    static final int SALT_BYTES = 16;
    static final int HASH_BYTES = 32;

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getDecoder();

    private PasswordHasher() {
    }

    /** A parsed PHC string. */
    record Phc(int memoryKiB, int iterations, int parallelism, byte[] salt, byte[] hash) {

        String format() {
            return "$argon2id$v=19$m=" + memoryKiB + ",t=" + iterations + ",p=" + parallelism + "$"
                    + B64.encodeToString(salt) + "$" + B64.encodeToString(hash);
        }
    }

    /** Hashes a UTF-8 password with a fresh salt and the default parameters. */
    public static String hash(byte[] password) {
        byte[] salt = new byte[SALT_BYTES];
        RANDOM.nextBytes(salt);
        Phc params = new Phc(MEMORY_KIB, ITERATIONS, PARALLELISM, salt, new byte[HASH_BYTES]);
        return new Phc(MEMORY_KIB, ITERATIONS, PARALLELISM, salt, argon2(password, params)).format();
    }

    /** Hashes a password read as characters (the console); the UTF-8 copy is cleared afterwards. */
    public static String hash(char[] password) {
        ByteBuffer encoded = StandardCharsets.UTF_8.encode(CharBuffer.wrap(password));
        byte[] bytes = new byte[encoded.remaining()];
        encoded.get(bytes);
        Arrays.fill(encoded.array(), (byte) 0);
        try {
            return hash(bytes);
        } finally {
            Arrays.fill(bytes, (byte) 0);
        }
    }

    /**
     * Whether {@code password} matches {@code phc}, with the parameters stored in it; constant-time comparison.
     *
     * @throws IllegalArgumentException if {@code phc} is not a valid Argon2id PHC string
     */
    public static boolean verify(byte[] password, String phc) {
        Phc stored = parse(phc);
        return MessageDigest.isEqual(argon2(password, stored), stored.hash());
    }

    /**
     * Checks the format and returns m (KiB), so configuration can check memory against the heap.
     *
     * @throws IllegalArgumentException saying what is wrong, never repeating the text (it may be a password)
     */
    public static int memoryKiB(String phc) {
        return parse(phc).memoryKiB();
    }

    static Phc parse(String phc) {
        if (phc == null || !phc.startsWith("$argon2id$")) {
            throw new IllegalArgumentException("not an Argon2id hash (it must start with $argon2id$)");
        }
        String[] parts = phc.split("\\$", -1);
        // "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
        if (parts.length != 6) {
            throw new IllegalArgumentException("an Argon2id hash has 5 $-separated fields");
        }
        if (!parts[2].equals("v=19")) {
            throw new IllegalArgumentException("only Argon2 version 19 (v=19) is supported");
        }
        int m = -1;
        int t = -1;
        int p = -1;
        for (String param : parts[3].split(",", -1)) {
            int eq = param.indexOf('=');
            String value = eq < 0 ? "" : param.substring(eq + 1);
            if (!value.matches("[0-9]{1,9}")) {
                throw new IllegalArgumentException("parameters must be m=<KiB>,t=<passes>,p=<lanes>");
            }
            int n = Integer.parseInt(value);
            switch (param.substring(0, eq)) {
                case "m" -> m = n;
                case "t" -> t = n;
                case "p" -> p = n;
                default -> throw new IllegalArgumentException("parameters must be m=<KiB>,t=<passes>,p=<lanes>");
            }
        }
        if (m < 0 || t < 0 || p < 0) {
            throw new IllegalArgumentException("parameters must be m=<KiB>,t=<passes>,p=<lanes>");
        }
        if (p < 1 || p > MAX_PARALLELISM) {
            throw new IllegalArgumentException("p must be 1-" + MAX_PARALLELISM);
        }
        if (t < 1 || t > MAX_ITERATIONS) {
            throw new IllegalArgumentException("t must be 1-" + MAX_ITERATIONS);
        }
        if (m < 8 * p || m > MAX_MEMORY_KIB) {
            throw new IllegalArgumentException("m must be " + 8 * p + "-" + MAX_MEMORY_KIB + " KiB");
        }
        byte[] salt;
        byte[] hash;
        try {
            salt = B64D.decode(parts[4]);
            hash = B64D.decode(parts[5]);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("salt and hash must be base64");
        }
        if (salt.length < 8 || hash.length < 16 || hash.length > 64) {
            throw new IllegalArgumentException("salt must be at least 8 bytes and hash 16-64 bytes");
        }
        return new Phc(m, t, p, salt, hash);
    }

    /** One Argon2id run with {@code params}' cost and salt, producing a tag as long as its hash. */
    static byte[] argon2(byte[] password, Phc params) {
        Argon2Parameters parameters = new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
                .withVersion(Argon2Parameters.ARGON2_VERSION_13)
                .withMemoryAsKB(params.memoryKiB())
                .withIterations(params.iterations())
                .withParallelism(params.parallelism())
                .withSalt(params.salt())
                .build();
        Argon2BytesGenerator generator = new Argon2BytesGenerator();
        generator.init(parameters);
        byte[] out = new byte[params.hash().length];
        generator.generateBytes(password, out);
        return out;
    }
}
