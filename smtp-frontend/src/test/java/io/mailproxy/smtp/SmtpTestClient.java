package io.mailproxy.smtp;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** A blocking SMTP client that sends exact octets and reads whole replies. */
final class SmtpTestClient implements AutoCloseable {

    final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    SmtpTestClient(int port) throws IOException {
        socket = new Socket(InetAddress.getLoopbackAddress(), port);
        socket.setSoTimeout(10_000);
        in = new BufferedInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** How long a read waits for the server before it fails (10 s unless set). */
    SmtpTestClient readTimeout(java.time.Duration timeout) throws IOException {
        socket.setSoTimeout(Math.toIntExact(timeout.toMillis()));
        return this;
    }

    /** Sends text as it is (ISO-8859-1, so any octet can be written). */
    SmtpTestClient send(String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        return this;
    }

    /** Reads one reply, all its lines, each ending in CRLF; null at end of stream. */
    String reply() throws IOException {
        StringBuilder all = new StringBuilder();
        while (true) {
            StringBuilder line = new StringBuilder();
            int b;
            while ((b = in.read()) >= 0) {
                line.append((char) b);
                if (b == '\n') {
                    break;
                }
            }
            if (b < 0) {
                return all.length() == 0 ? null : all.toString();
            }
            all.append(line);
            if (line.length() < 4 || line.charAt(3) != '-') {
                return all.toString();
            }
        }
    }

    String command(String line) throws IOException {
        send(line + "\r\n");
        return reply();
    }

    /** EHLO and AUTH PLAIN as {@code login}. */
    SmtpTestClient login(String login) throws IOException {
        expect(reply(), "220 ");
        expect(command("EHLO client.test"), "250-");
        String token = Base64.getEncoder().encodeToString(("\0" + login + "\0secret").getBytes(StandardCharsets.UTF_8));
        expect(command("AUTH PLAIN " + token), "235 2.7.0");
        return this;
    }

    static String expect(String reply, String prefix) {
        if (reply == null || !reply.startsWith(prefix)) {
            throw new AssertionError("expected a reply starting with \"" + prefix + "\", got " + reply);
        }
        return reply;
    }

    /** True once the server has closed the connection. */
    boolean closedByServer() throws IOException {
        return in.read() < 0;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
