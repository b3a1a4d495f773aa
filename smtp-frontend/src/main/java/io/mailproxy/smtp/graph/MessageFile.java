package io.mailproxy.smtp.graph;

import io.mailproxy.core.graph.MimeSource;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A stored message as Graph takes it: the file holds DATA as the client sent it (dot-stuffed, CRLF line endings,
 * without the final {@code .CRLF}: the spool's form, RFC 5321 4.5.2), and {@link #open()} yields the MIME message
 * with the stuffing removed, streamed from disk. Opened once per request (again on a retry); never held in memory.
 */
public final class MessageFile implements MimeSource {

    private final Path path;
    private final long size;

    private MessageFile(Path path, long size) {
        this.path = path;
        this.size = size;
    }

    /** Reads the file once to learn its unstuffed length. Blocking: off the event loop. */
    public static MessageFile of(Path dotStuffed) throws IOException {
        long n = 0;
        try (InputStream in = new Unstuffing(new BufferedInputStream(Files.newInputStream(dotStuffed), 64 * 1024))) {
            byte[] buf = new byte[64 * 1024];
            int r;
            while ((r = in.read(buf)) >= 0) {
                n += r;
            }
        }
        return new MessageFile(dotStuffed, n);
    }

    public Path path() {
        return path;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public InputStream open() throws IOException {
        return new Unstuffing(new BufferedInputStream(Files.newInputStream(path), 64 * 1024));
    }

    /** Writes the unstuffed message to {@code target} (for the streaming split, which reads a plain MIME file). */
    public void copyTo(Path target) throws IOException {
        try (InputStream in = open(); OutputStream out = Files.newOutputStream(target)) {
            in.transferTo(out);
        }
    }

    /** Removes the dot RFC 5321 4.5.2 added at the start of a line that began with one. */
    static final class Unstuffing extends FilterInputStream {
        private boolean lineStart = true;

        Unstuffing(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b == '.' && lineStart) {
                b = super.read();
            }
            lineStart = b == '\n';
            return b;
        }

        @Override
        public int read(byte[] buf, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            int n = super.read(buf, off, len);
            if (n <= 0) {
                return n;
            }
            int w = off;
            for (int i = off; i < off + n; i++) {
                byte b = buf[i];
                if (b == '.' && lineStart) {
                    lineStart = false;
                    continue; // the stuffed dot
                }
                lineStart = b == '\n';
                buf[w++] = b;
            }
            return w == off ? read(buf, off, len) : w - off;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = 0;
            while (skipped < n && read() >= 0) {
                skipped++;
            }
            return skipped;
        }

        @Override
        public boolean markSupported() {
            return false;
        }
    }
}
