package io.mailproxy.pop3.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** A blocking POP3 client for tests: status lines and unstuffed multi-line bodies (RFC 1939 section 3). */
public final class Pop3Client implements Closeable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    public Pop3Client(int port) throws IOException {
        socket = new Socket("127.0.0.1", port);
        socket.setSoTimeout(15_000);
        in = new BufferedInputStream(socket.getInputStream(), 65536);
        out = socket.getOutputStream();
    }

    public void send(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Sends a command and returns the status line without CRLF. */
    public String command(String line) throws IOException {
        send(line);
        return line();
    }

    public String line() throws IOException {
        byte[] l = rawLine();
        if (l == null) {
            return null;
        }
        int n = l.length;
        if (n >= 2 && l[n - 2] == '\r') {
            n -= 2;
        } else if (n >= 1) {
            n--;
        }
        return new String(l, 0, n, StandardCharsets.UTF_8);
    }

    /** The body of a multi-line response, unstuffed, CRLFs kept, without the terminator. */
    public byte[] body() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        while (true) {
            byte[] l = rawLine();
            if (l == null) {
                throw new IOException("connection closed inside a multi-line response");
            }
            if (l.length == 3 && l[0] == '.' && l[1] == '\r') {
                return b.toByteArray();
            }
            int from = l.length > 0 && l[0] == '.' ? 1 : 0;
            b.write(l, from, l.length - from);
        }
    }

    public String bodyText() throws IOException {
        return new String(body(), StandardCharsets.ISO_8859_1);
    }

    private final byte[] buf = new byte[65536];
    private int pos;
    private int limit;

    private byte[] rawLine() throws IOException {
        ByteArrayOutputStream line = null;
        while (true) {
            if (pos == limit) {
                int n = in.read(buf);
                if (n < 0) {
                    return line == null || line.size() == 0 ? null : line.toByteArray();
                }
                pos = 0;
                limit = n;
            }
            int lf = pos;
            while (lf < limit && buf[lf] != '\n') {
                lf++;
            }
            if (lf < limit) {
                byte[] chunk = Arrays.copyOfRange(buf, pos, lf + 1);
                pos = lf + 1;
                if (line == null) {
                    return chunk;
                }
                line.write(chunk, 0, chunk.length);
                return line.toByteArray();
            }
            if (line == null) {
                line = new ByteArrayOutputStream(256);
            }
            line.write(buf, pos, limit - pos);
            pos = limit;
        }
    }

    /** True when the server closed the connection (nothing more to read). */
    public boolean closedByServer() throws IOException {
        return pos == limit && in.read() == -1;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
