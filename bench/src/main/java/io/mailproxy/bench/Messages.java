package io.mailproxy.bench;

import java.nio.charset.StandardCharsets;

/** Deterministic test messages of an exact size: ASCII text, CRLF line ends, no line starting with a dot. */
final class Messages {

    private static final byte[] ALPHABET =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".getBytes(StandardCharsets.US_ASCII);

    private Messages() {
    }

    static byte[] message(String to, int n, int size) {
        String header = "From: bench@bench.test\r\n"
                + "To: " + to + "\r\n"
                + "Subject: benchmark message " + n + "\r\n"
                + "Message-ID: <" + n + "." + size + "@bench.test>\r\n"
                + "Date: Wed, 25 Nov 2026 20:00:00 +0000\r\n"
                + "MIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=us-ascii\r\n"
                + "\r\n";
        byte[] h = header.getBytes(StandardCharsets.US_ASCII);
        if (size < h.length + 2) {
            throw new IllegalArgumentException("size too small");
        }
        byte[] out = new byte[size];
        System.arraycopy(h, 0, out, 0, h.length);
        int i = h.length;
        int col = 0;
        long x = n * 2654435761L + size;
        while (i < size) {
            int left = size - i;
            if (left == 2 || (col >= 76 && left > 3)) {
                out[i++] = '\r';
                out[i++] = '\n';
                col = 0;
                continue;
            }
            x = x * 6364136223846793005L + 1442695040888963407L;
            out[i++] = ALPHABET[(int) ((x >>> 33) & 63)];
            col++;
        }
        return out;
    }
}
