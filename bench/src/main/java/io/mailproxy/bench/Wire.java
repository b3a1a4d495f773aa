package io.mailproxy.bench;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * One blocking client connection (plaintext, implicit TLS, or upgraded with STARTTLS) with its own read buffer, so
 * lines, IMAP literals and POP3's dot-terminated bodies are consumed in bulk without copying into Strings. The
 * same code is the client of the proxy and of the direct path, so any client cost is paid equally by both.
 *
 * <p>TLS is the JDK's, TLS 1.3 only, with the session invalidated after each handshake: no connection resumes a
 * previous session, so every direct connection pays a full handshake as a fresh legacy client would.
 */
final class Wire implements Closeable {

    private static final int BUFFER = 64 * 1024;

    private Socket socket;
    private InputStream in;
    private OutputStream out;
    private final byte[] buf = new byte[BUFFER];
    private int pos;
    private int lim;
    /** Reads at most this many bytes a second (0: as fast as they come), see {@link #pace}. */
    private long pace;
    private long paceStart;
    private long paceBytes;

    private Wire(Socket socket) throws IOException {
        attach(socket);
    }

    private void attach(Socket s) throws IOException {
        this.socket = s;
        s.setTcpNoDelay(true);
        this.in = s.getInputStream();
        this.out = s.getOutputStream();
    }

    static Wire plain(InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        s.connect(address, 10_000);
        s.setSoTimeout(120_000);
        return new Wire(s);
    }

    static Wire accepted(Socket s) throws IOException {
        s.setSoTimeout(120_000);
        return new Wire(s);
    }

    static Wire tls(SSLContext ctx, InetSocketAddress address) throws IOException {
        Socket s = new Socket();
        s.connect(address, 10_000);
        s.setSoTimeout(120_000);
        return new Wire(handshake(ctx, s, address));
    }

    /** Upgrades after a STARTTLS / STLS reply; nothing may be buffered at that point. */
    void startTls(SSLContext ctx, InetSocketAddress address) throws IOException {
        if (pos != lim) {
            throw new IOException("bytes after the STARTTLS reply");
        }
        attach(handshake(ctx, socket, address));
    }

    private static SSLSocket handshake(SSLContext ctx, Socket raw, InetSocketAddress address) throws IOException {
        SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(raw, address.getHostString(),
                address.getPort(), true);
        SSLParameters p = ssl.getSSLParameters();
        p.setProtocols(new String[] {"TLSv1.3"});
        p.setEndpointIdentificationAlgorithm("HTTPS");
        ssl.setSSLParameters(p);
        ssl.startHandshake();
        ssl.getSession().invalidate(); // never resumed by a later connection
        return ssl;
    }

    /** From now on reads at most {@code bytesPerSecond} (a slow client; 0: no limit). */
    void pace(long bytesPerSecond) {
        pace = bytesPerSecond;
        paceStart = System.nanoTime();
        paceBytes = 0;
    }

    void send(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    private boolean fill() throws IOException {
        if (pos == lim) {
            pos = 0;
            lim = 0;
        } else if (lim == buf.length) {
            System.arraycopy(buf, pos, buf, 0, lim - pos);
            lim -= pos;
            pos = 0;
        }
        int n = in.read(buf, lim, buf.length - lim);
        if (n < 0) {
            return false;
        }
        lim += n;
        if (pace > 0) {
            paceBytes += n;
            long ahead = paceBytes * 1_000_000_000L / pace - (System.nanoTime() - paceStart);
            if (ahead > 1_000_000) {
                try {
                    Thread.sleep(ahead / 1_000_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new java.io.InterruptedIOException("paced read interrupted");
                }
            }
        }
        return true;
    }

    /** One line without its CRLF (lines here are far shorter than the buffer). */
    String line() throws IOException {
        int scanned = 0; // bytes after pos already searched for CRLF
        while (true) {
            for (int i = pos + scanned; i < lim - 1; i++) {
                if (buf[i] == '\r' && buf[i + 1] == '\n') {
                    String s = new String(buf, pos, i - pos, StandardCharsets.ISO_8859_1);
                    pos = i + 2;
                    return s;
                }
            }
            scanned = Math.max(0, lim - 1 - pos);
            if (!fill()) {
                throw new EOFException("connection closed");
            }
        }
    }

    /** Reads and discards exactly {@code n} bytes. */
    void skip(long n) throws IOException {
        while (n > 0) {
            if (pos == lim && !fill()) {
                throw new EOFException("connection closed in a literal");
            }
            int take = (int) Math.min(n, lim - pos);
            pos += take;
            n -= take;
        }
    }

    /**
     * Reads a POP3 multi-line body up to and including its terminating {@code CRLF.CRLF} (the status line already
     * read) and returns the number of bytes before the terminator's final {@code .CRLF}.
     */
    long dotTerminated() throws IOException {
        long count = 0;
        // state: how much of "\r\n.\r\n" is matched; the status line's CRLF counts as the first "\r\n"
        int state = 2;
        while (true) {
            if (pos == lim && !fill()) {
                throw new EOFException("connection closed in a multi-line reply");
            }
            while (pos < lim) {
                if (state == 0) { // the common case: skip to the next CR in a tight loop
                    int i = pos;
                    while (i < lim && buf[i] != '\r') {
                        i++;
                    }
                    count += i - pos;
                    pos = i;
                    if (pos == lim) {
                        break;
                    }
                }
                byte b = buf[pos++];
                count++;
                state = switch (state) {
                    case 0 -> b == '\r' ? 1 : 0;
                    case 1 -> b == '\n' ? 2 : b == '\r' ? 1 : 0;
                    case 2 -> b == '.' ? 3 : b == '\r' ? 1 : 0;
                    case 3 -> b == '\r' ? 4 : 0;
                    case 4 -> b == '\n' ? 5 : b == '\r' ? 1 : 0;
                    default -> throw new IllegalStateException();
                };
                if (state == 5) {
                    return count - 3;
                }
            }
        }
    }

    /**
     * Sends an IMAP command and reads up to its tagged completion, skipping literals; returns the tagged line.
     * {@code literalBytes[0]} (if given) receives the literal octets seen.
     */
    String imap(String tag, String command, long[] literalBytes) throws IOException {
        send(tag + " " + command);
        return imapUntil(tag, literalBytes);
    }

    String imapUntil(String tag, long[] literalBytes) throws IOException {
        String prefix = tag + " ";
        while (true) {
            String l = line();
            while (l.endsWith("}")) {
                int open = l.lastIndexOf('{');
                if (open < 0) {
                    break;
                }
                String digits = l.substring(open + 1, l.length() - 1).replace("+", "");
                long n;
                try {
                    n = Long.parseLong(digits);
                } catch (NumberFormatException e) {
                    break;
                }
                skip(n);
                if (literalBytes != null) {
                    literalBytes[0] += n;
                }
                l = line();
            }
            if (l.startsWith(prefix)) {
                return l;
            }
        }
    }

    /** Reads an SMTP reply (all its lines); returns the last. */
    String smtpReply() throws IOException {
        while (true) {
            String l = line();
            if (l.length() < 4 || l.charAt(3) != '-') {
                return l;
            }
        }
    }

    /** Whether a read would not block: bytes are buffered here or in the socket (plaintext connections). */
    boolean readable() throws IOException {
        return pos < lim || in.available() > 0;
    }

    static void expect(String reply, String... prefixes) throws IOException {
        for (String p : prefixes) {
            if (reply.startsWith(p)) {
                return;
            }
        }
        throw new IOException("unexpected reply: " + reply + " (expected " + List.of(prefixes) + ")");
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing a benchmark connection
        }
    }
}
