package io.mailproxy.core.credentials;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSecretStoreTest {
    private static final String VALUE = "s3cr3t-Value-\u00e9-that-must-not-leak";

    @TempDir
    Path dir;

    private static byte[] key(int fill) {
        byte[] k = new byte[32];
        java.util.Arrays.fill(k, (byte) fill);
        return k;
    }

    private static Map<String, String> envKey(byte[] key) {
        return Map.of("MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(key));
    }

    @Test
    void roundTripAcrossInstancesAndNothingInClearOnDisk() throws IOException {
        FileSecretStore store = FileSecretStore.open(dir, envKey(key(1)));
        store.put("contoso-app", VALUE);
        store.put("reports-pw", "pw2");
        assertThat(store.get("contoso-app")).contains(VALUE);
        assertThat(store.names()).containsExactly("contoso-app", "reports-pw");
        assertThat(store.delete("reports-pw")).isTrue();
        assertThat(store.delete("reports-pw")).isFalse();

        FileSecretStore reopened = FileSecretStore.open(dir, envKey(key(1)));
        assertThat(reopened.get("contoso-app")).contains(VALUE);
        assertThat(reopened.get("reports-pw")).isEmpty();

        byte[] raw = Files.readAllBytes(dir.resolve(FileSecretStore.FILE_NAME));
        assertThat(new String(raw, 0, 5, StandardCharsets.ISO_8859_1)).isEqualTo("MPSS\u0001");
        assertThat(new String(raw, StandardCharsets.ISO_8859_1)).doesNotContain("contoso-app").doesNotContain("s3cr3t");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve(FileSecretStore.FILE_NAME))))
                .isEqualTo("rw-------");
    }

    @Test
    void eachWriteUsesAFreshNonce() throws IOException {
        FileSecretStore store = FileSecretStore.open(dir, envKey(key(1)));
        store.put("a", "1");
        byte[] first = Files.readAllBytes(store.file());
        store.put("a", "1");
        byte[] second = Files.readAllBytes(store.file());
        int nonceAt = FileSecretStore.HEADER_LENGTH - 12;
        assertThat(java.util.Arrays.copyOfRange(first, nonceAt, nonceAt + 12))
                .isNotEqualTo(java.util.Arrays.copyOfRange(second, nonceAt, nonceAt + 12));
    }

    @Test
    void tamperedFileIsRefusedWithAClearMessage() throws IOException {
        FileSecretStore.open(dir, envKey(key(1))).put("contoso-app", VALUE);
        Path file = dir.resolve(FileSecretStore.FILE_NAME);
        byte[] raw = Files.readAllBytes(file);
        raw[raw.length - 20] ^= 0x01;
        Files.write(file, raw);
        assertThatThrownBy(() -> FileSecretStore.open(dir, envKey(key(1))))
                .isInstanceOf(SecretStoreException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("failed its integrity check")
                .hasMessageNotContaining(VALUE);
    }

    @Test
    void versionByteIsBoundAndChecked() throws IOException {
        FileSecretStore.open(dir, envKey(key(1))).put("a", "1");
        Path file = dir.resolve(FileSecretStore.FILE_NAME);
        byte[] raw = Files.readAllBytes(file);
        raw[4] = 2;
        Files.write(file, raw);
        assertThatThrownBy(() -> FileSecretStore.open(dir, envKey(key(1))))
                .isInstanceOf(SecretStoreException.class).hasMessageContaining("format version 2");
    }

    @Test
    void wrongKeyIsToldApartFromDamage() {
        FileSecretStore.open(dir, envKey(key(1))).put("contoso-app", VALUE);
        assertThatThrownBy(() -> FileSecretStore.open(dir, envKey(key(2))))
                .isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("different master key")
                .hasMessageContaining("environment variable MAILPROXY_MASTER_KEY")
                .hasMessageNotContaining(Base64.getEncoder().encodeToString(key(2)));
    }

    @Test
    void garbageFileIsRefused() throws IOException {
        Files.writeString(dir.resolve(FileSecretStore.FILE_NAME), "hello world, not a store at all");
        Files.setPosixFilePermissions(dir.resolve(FileSecretStore.FILE_NAME), PosixFilePermissions.fromString("rw-------"));
        assertThatThrownBy(() -> FileSecretStore.open(dir, envKey(key(1))))
                .isInstanceOf(SecretStoreException.class).hasMessageContaining("not a mailproxy secret store");
    }

    @Test
    void keyFileIsCreatedOwnerOnlyAndReused() throws IOException {
        FileSecretStore store = FileSecretStore.open(dir, Map.of());
        store.put("x", "y");
        Path keyFile = dir.resolve(MasterKey.KEY_FILE);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyFile))).isEqualTo("rw-------");
        assertThat(Base64.getDecoder().decode(Files.readString(keyFile).trim())).hasSize(32);
        assertThat(store.keySource()).contains(keyFile.toString());
        assertThat(FileSecretStore.open(dir, Map.of()).get("x")).contains("y");
    }

    @Test
    void keyFromSystemdCredentialsDirectoryWinsOverEnvironment() throws IOException {
        Path creds = Files.createDirectory(dir.resolve("creds"));
        Files.write(creds.resolve("mailproxy-master-key"), key(7)); // raw 32 bytes
        Path state = dir.resolve("state");
        FileSecretStore store = FileSecretStore.open(state, Map.of("CREDENTIALS_DIRECTORY", creds.toString(),
                "MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(key(1))));
        store.put("a", "b");
        assertThat(store.keySource()).contains("systemd credential");
        assertThat(Files.exists(state.resolve(MasterKey.KEY_FILE))).isFalse();
        // the same key given as hex in the environment opens it; the base64 one from before does not
        assertThat(FileSecretStore.open(state, Map.of("MAILPROXY_MASTER_KEY", HexFormat.of().formatHex(key(7))))
                .get("a")).contains("b");
        assertThatThrownBy(() -> FileSecretStore.open(state, envKey(key(1))))
                .hasMessageContaining("different master key");
    }

    @Test
    void aLostKeyFileIsNotSilentlyReplaced() throws IOException {
        FileSecretStore.open(dir, Map.of()).put("a", "b");
        Files.delete(dir.resolve(MasterKey.KEY_FILE));
        assertThatThrownBy(() -> FileSecretStore.open(dir, Map.of()))
                .isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("exists but its master key was not found")
                .hasMessageContaining("restore " + dir.resolve(MasterKey.KEY_FILE));
        assertThat(Files.exists(dir.resolve(MasterKey.KEY_FILE))).isFalse();
    }

    @Test
    void malformedEnvironmentKeyIsRefused() {
        assertThatThrownBy(() -> FileSecretStore.open(dir, Map.of("MAILPROXY_MASTER_KEY", "too-short")))
                .isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("MAILPROXY_MASTER_KEY is not a 32-byte key")
                .hasMessageNotContaining("too-short");
    }

    @Test
    void storeReadableByOthersIsRefused() throws IOException {
        FileSecretStore.open(dir, envKey(key(1))).put("a", "b");
        Path file = dir.resolve(FileSecretStore.FILE_NAME);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> FileSecretStore.open(dir, envKey(key(1))))
                .isInstanceOf(SecretStoreException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("chmod 600 " + file);
    }

    @Test
    void keyFileReadableByGroupIsRefused() throws IOException {
        FileSecretStore.open(dir, Map.of());
        Path keyFile = dir.resolve(MasterKey.KEY_FILE);
        Files.setPosixFilePermissions(keyFile, PosixFilePermissions.fromString("rw-r-----"));
        assertThatThrownBy(() -> FileSecretStore.open(dir, Map.of()))
                .isInstanceOf(SecretStoreException.class)
                .hasMessageContaining("master key file " + keyFile)
                .hasMessageContaining("chmod 600 " + keyFile);
    }

    @Test
    void writesLeaveNoTemporaryOrPartialFile() throws IOException {
        FileSecretStore store = FileSecretStore.open(dir, envKey(key(1)));
        for (int i = 0; i < 20; i++) {
            store.put("k" + i, "v" + i);
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder(FileSecretStore.FILE_NAME, FileSecretStore.LOCK_NAME);
        }
        // a crash between temp write and rename leaves a stray temp file: the store ignores it
        Files.write(dir.resolve("." + FileSecretStore.FILE_NAME + "123.tmp"), new byte[] {1, 2, 3});
        assertThat(FileSecretStore.open(dir, envKey(key(1))).names()).hasSize(20);
    }

    @Test
    void twoStoresOnOneDirectoryLoseNoWrites() throws Exception {
        FileSecretStore a = FileSecretStore.open(dir, envKey(key(1)));
        FileSecretStore b = FileSecretStore.open(dir, envKey(key(1)));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                FileSecretStore store = t % 2 == 0 ? a : b;
                int thread = t;
                done.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < 25; i++) {
                        store.put("t" + thread + "-" + i, "v" + i);
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(a.names()).hasSize(100);
        assertThat(b.names()).hasSize(100);
        assertThat(FileSecretStore.open(dir, envKey(key(1))).get("t3-24")).contains("v24");
    }

    @Test
    void anotherProcessWritingIsSeenAndNotLost() throws Exception {
        FileSecretStore mine = FileSecretStore.open(dir, envKey(key(1)));
        mine.put("mine", "1");
        // a second JVM writes through its own store while this one holds the file lock briefly
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(javaBin, "-cp", System.getProperty("java.class.path"),
                SecretStoreWriterMain.class.getName(), dir.toString(), "theirs", "50")
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        for (int i = 0; i < 50; i++) {
            mine.put("mine-" + i, "x");
        }
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(output).isZero();
        FileSecretStore fresh = FileSecretStore.open(dir, envKey(key(1)));
        assertThat(fresh.names()).hasSize(101).contains("theirs-49", "mine-49", "mine");
        assertThat(mine.get("theirs-0")).contains("v");
    }

    @Test
    void replaceIsACompareAndSet() {
        FileSecretStore store = FileSecretStore.open(dir, envKey(key(1)));
        store.put("rt", "old");
        assertThat(store.replace("rt", "other", "new")).isFalse();
        assertThat(store.get("rt")).contains("old");
        assertThat(store.replace("rt", "old", "new")).isTrue();
        assertThat(store.get("rt")).contains("new");
    }

    @Test
    void toStringNamesNoValue() {
        FileSecretStore store = FileSecretStore.open(dir, envKey(key(1)), new SecureRandom());
        store.put("a", VALUE);
        assertThat(store.toString()).doesNotContain(VALUE).contains(FileSecretStore.FILE_NAME);
    }
}
