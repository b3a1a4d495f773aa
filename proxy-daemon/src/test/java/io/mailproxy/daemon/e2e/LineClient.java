package io.mailproxy.daemon.e2e;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;

/** A raw line-oriented client (IMAP, POP3, SMTP) over plain or TLS sockets, reading exact bytes. */
final class LineClient implements AutoCloseable {

    private static final Pattern LITERAL = Pattern.compile("\\{(\\d+)\\}$");
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private LineClient(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(10_000);
        this.in = new BufferedInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    static LineClient connect(InetSocketAddress address) throws IOException {
        return new LineClient(new Socket(address.getAddress(), address.getPort()));
    }

    static LineClient connectTls(SSLContext context, String host, int port) throws IOException {
        return new LineClient(context.getSocketFactory().createSocket(host, port));
    }

    /** One line without its CRLF; null at end of stream. */
    String line() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) != -1) {
            if (c == '\n') {
                byte[] bytes = b.toByteArray();
                int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                return new String(bytes, 0, n, StandardCharsets.UTF_8);
            }
            b.write(c);
        }
        return b.size() == 0 ? null : b.toString(StandardCharsets.UTF_8);
    }

    byte[] bytes(int n) throws IOException {
        return in.readNBytes(n);
    }

    void send(String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    void sendRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    /** Sends a tagged IMAP command and returns every line up to and including its tagged completion. */
    List<String> imap(String tag, String command) throws IOException {
        send(tag + " " + command);
        return untilTagged(tag);
    }

    List<String> untilTagged(String tag) throws IOException {
        List<String> lines = new ArrayList<>();
        String l;
        while ((l = line()) != null) {
            lines.add(l);
            if (l.startsWith(tag + " ")) {
                return lines;
            }
        }
        throw new IOException("connection closed before " + tag + " completed: " + lines);
    }

    /** {@code UID FETCH uid BODY.PEEK[]}: the literal's exact bytes. */
    byte[] fetchBody(String tag, long uid) throws IOException {
        send(tag + " UID FETCH " + uid + " BODY.PEEK[]");
        byte[] body = null;
        String l;
        while ((l = line()) != null) {
            Matcher m = LITERAL.matcher(l);
            if (l.startsWith("* ") && m.find()) {
                body = bytes(Integer.parseInt(m.group(1)));
                continue;
            }
            if (l.startsWith(tag + " ")) {
                if (!l.startsWith(tag + " OK") || body == null) {
                    throw new IOException("fetch failed: " + l);
                }
                return body;
            }
        }
        throw new IOException("closed during fetch");
    }

    /** POP3: reads a multi-line response after its +OK line, dot-unstuffed, CRLF kept. */
    byte[] pop3MultiLine() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        String l;
        while ((l = line()) != null && !l.equals(".")) {
            b.writeBytes((l.startsWith(".") ? l.substring(1) : l).getBytes(StandardCharsets.UTF_8));
            b.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        return b.toByteArray();
    }

    boolean isClosedByPeer() throws IOException {
        try {
            return in.read() == -1;
        } catch (java.net.SocketException e) {
            return true;
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
