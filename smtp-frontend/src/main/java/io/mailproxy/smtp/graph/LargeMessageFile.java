package io.mailproxy.smtp.graph;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;

/**
 * The original message, open for the split's whole life: byte ranges of it as streams (for the reduced message's
 * copy and the attachments' decoding), and a forward byte cursor for the scanner.
 *
 * <p>A {@link RandomAccessFile} with seek-and-read under its lock rather than a {@code FileChannel}: an interrupt
 * during a channel read closes the channel for every other reader (and every later retry), a plain file does not.
 * Holding it open keeps the bytes readable after the spool renames or unlinks the file.
 */
final class LargeMessageFile implements Closeable {

    static final int BUFFER = 64 * 1024;

    private final RandomAccessFile file;
    private final long size;

    // the scanner's window (one thread: the one running split)
    private final byte[] window = new byte[BUFFER];
    private long windowStart;
    private int windowLength;

    LargeMessageFile(Path path) throws IOException {
        this.file = new RandomAccessFile(path.toFile(), "r");
        this.size = file.length();
    }

    long size() {
        return size;
    }

    /** The byte at {@code position} (less than {@link #size()}), through a forward-moving window. */
    int byteAt(long position) throws IOException {
        if (position < windowStart || position >= windowStart + windowLength) {
            windowStart = position;
            windowLength = read(position, window, 0, (int) Math.min(window.length, size - position));
            if (windowLength <= 0) {
                throw new EOFException("message file shrank while it was split, at byte " + position);
            }
        }
        return window[(int) (position - windowStart)] & 0xff;
    }

    /**
     * The start of the line after the one at {@code position}: just past its LF, or {@code end} when there is none.
     */
    long nextLine(long position, long end) throws IOException {
        long p = position;
        while (p < end) {
            if (p < windowStart || p >= windowStart + windowLength) {
                byteAt(p);
            }
            int from = (int) (p - windowStart);
            int to = (int) Math.min(windowLength, end - windowStart);
            for (int i = from; i < to; i++) {
                if (window[i] == '\n') {
                    return windowStart + i + 1;
                }
            }
            p = windowStart + to;
        }
        return end;
    }

    /** A stream of bytes {@code [start, end)}, buffered; closing it leaves the file open. */
    InputStream range(long start, long end) {
        return new BufferedInputStream(new Range(start, end), BUFFER);
    }

    /** Copies bytes {@code [start, end)} to {@code out}. */
    void copy(long start, long end, OutputStream out) throws IOException {
        byte[] buffer = new byte[BUFFER];
        long p = start;
        while (p < end) {
            int n = read(p, buffer, 0, (int) Math.min(buffer.length, end - p));
            if (n <= 0) {
                throw new EOFException("message file shrank while it was copied, at byte " + p);
            }
            out.write(buffer, 0, n);
            p += n;
        }
    }

    private int read(long position, byte[] into, int offset, int length) throws IOException {
        synchronized (file) {
            file.seek(position);
            return file.read(into, offset, length);
        }
    }

    @Override
    public void close() throws IOException {
        file.close();
    }

    private final class Range extends InputStream {
        private long position;
        private final long end;

        Range(long start, long end) {
            this.position = start;
            this.end = end;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (position >= end) {
                return -1;
            }
            int n = LargeMessageFile.this.read(position, b, off, (int) Math.min(len, end - position));
            if (n < 0) {
                throw new EOFException("message file shrank while it was read, at byte " + position);
            }
            position += n;
            return n;
        }

        @Override
        public long skip(long n) {
            long skipped = Math.max(0, Math.min(n, end - position));
            position += skipped;
            return skipped;
        }

        @Override
        public int available() {
            return (int) Math.min(Integer.MAX_VALUE, end - position);
        }
    }
}
