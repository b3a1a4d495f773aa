package io.mailproxy.core.graph;

import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;

/**
 * Request bodies that stream from a {@link MimeSource} (base64-encoded as they are read, or a byte range of it) and
 * response bodies read into a bounded buffer. The JDK's HttpClient pulls from the stream on its executor, one buffer
 * at a time, so no body is ever held whole.
 */
final class GraphBodies {

    /** Error answers and small JSON (a message, an upload session): the rest is dropped. */
    static final int ERROR_LIMIT = 64 * 1024;
    /** A listing page of 100 messages is about 60 KB; a nextLink about 1 KB. */
    static final int JSON_LIMIT = 1024 * 1024;

    private GraphBodies() {
    }

    /** Length of the base64 (with padding, no line breaks) of {@code n} bytes. */
    static long base64Length(long n) {
        return (n + 2) / 3 * 4;
    }

    /** The source, base64-encoded while it is read, with a known length (no chunked encoding). */
    static HttpRequest.BodyPublisher base64(MimeSource source) {
        return base64(source, new byte[0], new byte[0]);
    }

    /** {@code prefix}, the source base64-encoded, {@code suffix}: a JSON document with a streamed string in it. */
    static HttpRequest.BodyPublisher base64(MimeSource source, byte[] prefix, byte[] suffix) {
        long length = prefix.length + base64Length(source.size()) + suffix.length;
        return HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(() -> {
            InputStream in = open(source, 0);
            return new SequenceInputStream(java.util.Collections.enumeration(List.of(new ByteArrayInputStream(prefix),
                    new Base64InputStream(in), new ByteArrayInputStream(suffix))));
        }), length);
    }

    /** Bytes {@code [from, from + length)} of the source, as they are read. */
    static HttpRequest.BodyPublisher range(MimeSource source, long from, long length) {
        return HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(
                () -> new Limited(open(source, from), length)), length);
    }

    private static InputStream open(MimeSource source, long from) {
        try {
            InputStream in = source.open();
            try {
                in.skipNBytes(from);
            } catch (IOException e) {
                in.close();
                throw e;
            }
            return in;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the message to send: " + e.getMessage(), e);
        }
    }

    /** A body read up to {@code limit} bytes as UTF-8 text; anything beyond is discarded (never buffered). */
    static HttpResponse.BodySubscriber<String> bounded(int limit) {
        return new Bounded(limit);
    }

    /** The body handler for JSON answers and error bodies. */
    static HttpResponse.BodyHandler<String> boundedHandler(int limit) {
        return info -> bounded(info.statusCode() >= 300 ? ERROR_LIMIT : limit);
    }

    private static final class Bounded implements HttpResponse.BodySubscriber<String> {
        private final CompletableFuture<String> result = new CompletableFuture<>();
        private final int limit;
        private byte[] data = new byte[256];
        private int length;

        Bounded(int limit) {
            this.limit = limit;
        }

        @Override
        public CompletionStage<String> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            subscription.request(Long.MAX_VALUE); // the HttpClient's own buffers bound what arrives at once
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            for (ByteBuffer b : items) {
                int take = Math.min(b.remaining(), limit - length);
                if (take > 0) {
                    if (length + take > data.length) {
                        data = java.util.Arrays.copyOf(data, Math.min(limit, Math.max(data.length * 2, length + take)));
                    }
                    b.get(data, length, take);
                    length += take;
                }
            }
        }

        @Override
        public void onError(Throwable throwable) {
            result.completeExceptionally(throwable);
        }

        @Override
        public void onComplete() {
            result.complete(new String(data, 0, length, StandardCharsets.UTF_8));
        }
    }

    /** Reads at most {@code remaining} bytes. */
    private static final class Limited extends FilterInputStream {
        private long remaining;

        Limited(InputStream in, long remaining) {
            super(in);
            this.remaining = remaining;
        }

        @Override
        public int read() throws IOException {
            if (remaining <= 0) {
                return -1;
            }
            int b = super.read();
            if (b >= 0) {
                remaining--;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (remaining <= 0) {
                return -1;
            }
            int n = super.read(b, off, (int) Math.min(len, remaining));
            if (n > 0) {
                remaining -= n;
            }
            return n;
        }
    }

    /** Base64 (RFC 4648, no line breaks) of the stream below, encoded 3 bytes to 4 as the reader asks. */
    static final class Base64InputStream extends InputStream {
        private static final Base64.Encoder ENCODER = Base64.getEncoder();
        private final InputStream in;
        private final byte[] raw = new byte[3 * 4096];
        private byte[] encoded = new byte[0];
        private int pos;
        private boolean eof;

        Base64InputStream(InputStream in) {
            this.in = in;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            if (pos == encoded.length && !fill()) {
                return -1;
            }
            int n = Math.min(len, encoded.length - pos);
            System.arraycopy(encoded, pos, b, off, n);
            pos += n;
            return n;
        }

        /** Encodes the next block: whole groups of 3 bytes, and padding only at the end. */
        private boolean fill() throws IOException {
            if (eof) {
                return false;
            }
            int n = in.readNBytes(raw, 0, raw.length); // full unless at the end: groups of 3 stay aligned
            if (n < raw.length) {
                eof = true;
            }
            if (n == 0) {
                return false;
            }
            encoded = n == raw.length ? ENCODER.encode(raw) : ENCODER.encode(java.util.Arrays.copyOf(raw, n));
            pos = 0;
            return true;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
