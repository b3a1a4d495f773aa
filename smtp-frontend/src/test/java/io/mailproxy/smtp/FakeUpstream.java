package io.mailproxy.smtp;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A tiny scripted SMTP server on loopback (plaintext: the fake pool stands in for the connector's TLS and login).
 * It records every octet it receives and every message it accepted, exactly as they came (dot-stuffed).
 */
final class FakeUpstream implements AutoCloseable {

    volatile List<String> capabilities = List.of("PIPELINING", "SIZE 157286400", "8BITMIME", "SMTPUTF8",
            "ENHANCEDSTATUSCODES", "AUTH LOGIN XOAUTH2", "CHUNKING", "BINARYMIME", "DSN");
    volatile Function<String, String> mailReply = line -> "250 2.1.0 Sender OK";
    volatile Function<String, String> rcptReply = line -> line.contains("reject")
            ? "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"
            : "250 2.1.5 Recipient OK";
    volatile String dataReply = "354 Start mail input; end with <CRLF>.<CRLF>";
    volatile String finalReply = "250 2.0.0 OK <id@fake> [Hostname=FAKE] Queued mail for delivery";
    /** When set, the connection is closed after this many message octets (an upstream lost mid-DATA). */
    volatile int dropAfterDataOctets = -1;
    /** When set, the final reply is never sent (an upstream that hangs). */
    volatile boolean silentAfterDot;
    /** When set, nothing is read after the 354 until {@link #stalled} is counted down (an upstream that hangs). */
    volatile boolean stallInData;
    final java.util.concurrent.CountDownLatch stalled = new java.util.concurrent.CountDownLatch(1);

    /** What each connection received, as ISO-8859-1 text (exact octets). */
    final List<StringBuilder> transcripts = new CopyOnWriteArrayList<>();
    /** Messages received up to a final dot, without the terminating ".\r\n", still dot-stuffed. */
    final List<String> messages = new CopyOnWriteArrayList<>();
    final AtomicInteger finalDots = new AtomicInteger();
    final AtomicInteger connections = new AtomicInteger();

    private final ServerSocket server;
    private final Thread acceptor;

    FakeUpstream() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(this::acceptLoop, "fake-upstream");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                connections.incrementAndGet();
                Thread t = new Thread(() -> serve(s), "fake-upstream-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket socket) {
        StringBuilder transcript = new StringBuilder();
        transcripts.add(transcript);
        try (socket) {
            InputStream in = new BufferedInputStream(socket.getInputStream());
            OutputStream out = socket.getOutputStream();
            write(out, "220 fake.upstream Microsoft ESMTP MAIL Service ready");
            String line;
            boolean mail = false;
            while ((line = readLine(in, transcript)) != null) {
                String upper = line.toUpperCase(Locale.ROOT);
                if (upper.startsWith("EHLO")) {
                    StringBuilder sb = new StringBuilder("250-fake.upstream Hello\r\n");
                    List<String> caps = capabilities;
                    for (int i = 0; i < caps.size(); i++) {
                        sb.append(i == caps.size() - 1 ? "250 " : "250-").append(caps.get(i)).append("\r\n");
                    }
                    out.write(sb.toString().getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } else if (upper.startsWith("MAIL")) {
                    String reply = mailReply.apply(line);
                    mail = reply.startsWith("2");
                    write(out, reply);
                } else if (upper.startsWith("RCPT")) {
                    write(out, mail ? rcptReply.apply(line) : "503 5.5.1 Bad sequence of commands");
                } else if (upper.equals("DATA")) {
                    write(out, dataReply);
                    if (dataReply.startsWith("354") && stallInData) {
                        try {
                            stalled.await(30, java.util.concurrent.TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        return;
                    }
                    if (dataReply.startsWith("354") && !readMessage(in, out, transcript, socket)) {
                        return;
                    }
                    mail = false;
                } else if (upper.equals("RSET") || upper.equals("NOOP")) {
                    mail = mail && upper.equals("NOOP");
                    write(out, "250 2.0.0 OK");
                } else if (upper.equals("QUIT")) {
                    write(out, "221 2.0.0 Service closing transmission channel");
                    return;
                } else {
                    write(out, "500 5.3.3 Unrecognized command");
                }
            }
        } catch (IOException e) {
            // the proxy closed the connection
        }
    }

    /** @return false when the connection was dropped on purpose */
    private boolean readMessage(InputStream in, OutputStream out, StringBuilder transcript, Socket socket)
            throws IOException {
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        int octets = 0;
        while (true) {
            ByteArrayOutputStream lineBytes = new ByteArrayOutputStream();
            int b;
            while ((b = in.read()) >= 0) {
                lineBytes.write(b);
                transcript.append((char) b);
                octets++;
                if (dropAfterDataOctets >= 0 && octets >= dropAfterDataOctets) {
                    socket.close();
                    return false;
                }
                if (b == '\n') {
                    break;
                }
            }
            if (b < 0) {
                throw new IOException("closed mid-DATA");
            }
            String l = lineBytes.toString(StandardCharsets.ISO_8859_1);
            if (l.equals(".\r\n")) {
                finalDots.incrementAndGet();
                messages.add(message.toString(StandardCharsets.ISO_8859_1));
                if (!silentAfterDot) {
                    write(out, finalReply);
                }
                return true;
            }
            message.write(lineBytes.toByteArray());
        }
    }

    private static String readLine(InputStream in, StringBuilder transcript) throws IOException {
        StringBuilder sb = new StringBuilder();
        int b;
        while ((b = in.read()) >= 0) {
            transcript.append((char) b);
            if (b == '\n') {
                int len = sb.length();
                return len > 0 && sb.charAt(len - 1) == '\r' ? sb.substring(0, len - 1) : sb.toString();
            }
            sb.append((char) b);
        }
        return null;
    }

    private static void write(OutputStream out, String reply) throws IOException {
        out.write((reply + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** Everything received on all connections, in order of connection. */
    String allReceived() {
        StringBuilder sb = new StringBuilder();
        for (StringBuilder t : transcripts) {
            synchronized (t) {
                sb.append(t);
            }
        }
        return sb.toString();
    }

    @Override
    public void close() throws IOException {
        stalled.countDown();
        server.close();
    }
}
