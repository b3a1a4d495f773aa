package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Byte-exact assertions whose failure says where the bytes first differ (not a 10 MB dump). */
final class Exact {

    private Exact() {
    }

    static void assertSameBytes(String what, byte[] actual, byte[] expected) {
        if (Arrays.equals(actual, expected)) {
            return;
        }
        throw new AssertionError(what + ": " + difference(actual, expected));
    }

    /**
     * The sink's copy of a relayed message: exactly one {@code Received:} header prepended by Dovecot's submission
     * service, then the bytes the client sent.
     */
    static void assertRelayed(byte[] received, byte[] sent) {
        if (!Messages.endsWith(received, sent)) {
            int from = indexOf(received, Arrays.copyOf(sent, Math.min(sent.length, 32)));
            from = from < 0 ? Math.max(0, received.length - sent.length) : from;
            throw new AssertionError("relayed message does not end with the sent bytes: "
                    + difference(Arrays.copyOfRange(received, from, received.length), sent));
        }
        String prefix = Messages.prefix(received, sent);
        assertThat(prefix).as("what Dovecot prepended").startsWith("Received: ").endsWith("\r\n")
                .doesNotContain("\r\n\r\n");
        for (String line : prefix.split("\r\n")) {
            assertThat(line).as("one header: its first line, then folded lines").matches("(Received: |[ \\t]).*");
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    static String difference(byte[] actual, byte[] expected) {
        int n = Math.min(actual.length, expected.length);
        int i = 0;
        while (i < n && actual[i] == expected[i]) {
            i++;
        }
        return "lengths " + actual.length + " (actual) and " + expected.length + " (expected); first difference at "
                + "offset " + i + ": actual …" + show(actual, i) + "… expected …" + show(expected, i) + "…";
    }

    private static String show(byte[] b, int at) {
        int from = Math.max(0, at - 40);
        int to = Math.min(b.length, at + 40);
        return new String(b, from, to - from, StandardCharsets.UTF_8).replace("\r", "\\r").replace("\n", "\\n")
                .replace("\0", "\\0");
    }
}
