package io.mailproxy.interop;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** A plaintext client socket to the proxy for hand-written dialogues (faults, bad input, POP3 details). */
final class Wire implements AutoCloseable {

    final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    Wire(String host, int port) throws IOException {
        socket = new Socket(host, port);
        socket.setSoTimeout(30_000);
        in = new BufferedInputStream(socket.getInputStream(), 65536);
        out = socket.getOutputStream();
    }

    static Wire proxy(int port) throws IOException {
        return new Wire(Proxy.HOST, port);
    }

    Wire send(String line) throws IOException {
        return raw((line + "\r\n").getBytes(StandardCharsets.UTF_8));
    }

    Wire raw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
        return this;
    }

    /** The first line (with any lines before it that the reader gets at once), or what came before EOF. */
    byte[] drainLine() throws IOException {
        String l = line();
        return l == null ? "<<closed without a reply>>".getBytes(StandardCharsets.US_ASCII)
                : l.getBytes(StandardCharsets.UTF_8);
    }

    /** One line without its CRLF; null at end of stream. */
    String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int prev = -1;
        while (true) {
            int c = in.read();
            if (c < 0) {
                return b.size() == 0 ? null : b.toString(StandardCharsets.UTF_8);
            }
            if (c == '\n' && prev == '\r') {
                byte[] bytes = b.toByteArray();
                return new String(bytes, 0, bytes.length - 1, StandardCharsets.UTF_8);
            }
            b.write(c);
            prev = c;
        }
    }

    /** Lines up to and including the first that starts with {@code prefix}; null entries never. */
    String until(String prefix) throws IOException {
        StringBuilder b = new StringBuilder();
        while (true) {
            String l = line();
            if (l == null) {
                throw new IOException("closed before a line starting with " + prefix + "; got:\n" + b);
            }
            b.append(l).append('\n');
            if (l.startsWith(prefix)) {
                return b.toString();
            }
        }
    }

    /** The last line of an SMTP reply (skipping 250- continuation lines). */
    String smtpReply() throws IOException {
        while (true) {
            String l = line();
            if (l == null || l.length() < 4 || l.charAt(3) != '-') {
                return l;
            }
        }
    }

    byte[] read(int n) throws IOException {
        return in.readNBytes(n);
    }

    /** A POP3 multi-line body, dot-unstuffed, without the terminating dot line. */
    byte[] pop3MultiLine() throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        ByteArrayOutputStream l = new ByteArrayOutputStream();
        while (true) {
            l.reset();
            int prev = -1;
            while (true) {
                int c = in.read();
                if (c < 0) {
                    throw new IOException("closed inside a multi-line response after " + body.size() + " bytes");
                }
                l.write(c);
                if (c == '\n' && prev == '\r') {
                    break;
                }
                prev = c;
            }
            byte[] line = l.toByteArray();
            if (line.length == 3 && line[0] == '.') {
                return body.toByteArray();
            }
            int skip = line[0] == '.' ? 1 : 0;
            body.write(line, skip, line.length - skip);
        }
    }

    /** Everything until the peer closes (or {@code max} bytes, or the read time-out). */
    byte[] drain(int max) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[65536];
        try {
            int n;
            while (b.size() < max && (n = in.read(buf)) >= 0) {
                b.write(buf, 0, n);
            }
        } catch (SocketTimeoutException e) {
            b.writeBytes("<<read timed out>>".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            b.writeBytes(("<<" + e + ">>").getBytes(StandardCharsets.US_ASCII));
        }
        return b.toByteArray();
    }

    static String plain(String user, String password) {
        return Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
