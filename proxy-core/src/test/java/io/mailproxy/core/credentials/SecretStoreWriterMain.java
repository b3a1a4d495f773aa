package io.mailproxy.core.credentials;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.Map;

/** Run in a second JVM by {@link FileSecretStoreTest}: writes N secrets into the store at args[0]. */
public final class SecretStoreWriterMain {
    private SecretStoreWriterMain() { }

    public static void main(String[] args) {
        byte[] key = new byte[32];
        Arrays.fill(key, (byte) 1);
        FileSecretStore store = FileSecretStore.open(Path.of(args[0]),
                Map.of("MAILPROXY_MASTER_KEY", Base64.getEncoder().encodeToString(key)));
        for (int i = 0; i < Integer.parseInt(args[2]); i++) {
            store.put(args[1] + "-" + i, "v");
        }
    }
}
