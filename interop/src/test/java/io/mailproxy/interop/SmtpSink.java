package io.mailproxy.interop;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;

/**
 * A loopback SMTP server (RFC 5321) that Dovecot's submission service relays to. It stores exactly what it
 * receives: the bytes between DATA and the final dot, dot-unstuffed, CRLFs kept. Recipients whose local part starts
 * with {@code reject} are refused with {@code 550 5.1.1}.
 */
final class SmtpSink implements AutoCloseable {

    /** One received transaction. */
    record Received(String mailFrom, List<String> rcptTo, byte[] data) {
        String text() {
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    private static final int MAX_LINE = 64 * 1024;

    private final ServerSocket server;
    private final ExecutorService executor;
    private final List<Received> messages = new CopyOnWriteArrayList<>();
    private final Predicate<String> rejects = rcpt -> rcpt.toLowerCase(Locale.ROOT).startsWith("reject");
    private volatile boolean closed;

    SmtpSink() throws IOException {
        server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        executor = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "smtp-sink");
            t.setDaemon(true);
            return t;
        });
        executor.execute(this::acceptLoop);
    }

    int port() {
        return server.getLocalPort();
    }

    List<Received> messages() {
        return List.copyOf(messages);
    }

    /** Messages that were sent to {@code rcpt}. */
    List<Received> messagesTo(String rcpt) {
        List<Received> out = new ArrayList<>();
        for (Received r : messages) {
            if (r.rcptTo().contains(rcpt)) {
                out.add(r);
            }
        }
        return out;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                executor.execute(() -> serve(s));
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("smtp-sink: accept failed: " + e);
                }
                return;
            }
        }
    }

    private void serve(Socket socket) {
        try (socket; InputStream in = new BufferedInputStream(socket.getInputStream());
             OutputStream out = socket.getOutputStream()) {
            socket.setSoTimeout(120_000);
            reply(out, "220 sink.test ESMTP interop sink");
            String from = null;
            List<String> rcpts = new ArrayList<>();
            while (true) {
                String line = readLine(in);
                if (line == null) {
                    return;
                }
                String upper = line.toUpperCase(Locale.ROOT);
                if (upper.startsWith("EHLO")) {
                    reply(out, "250-sink.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-SIZE 104857600\r\n250 ENHANCEDSTATUSCODES");
                } else if (upper.startsWith("HELO")) {
                    reply(out, "250 sink.test");
                } else if (upper.startsWith("MAIL FROM:")) {
                    from = address(line.substring(10));
                    rcpts = new ArrayList<>();
                    reply(out, "250 2.1.0 Ok");
                } else if (upper.startsWith("RCPT TO:")) {
                    String rcpt = address(line.substring(8));
                    if (from == null) {
                        reply(out, "503 5.5.1 MAIL first");
                    } else if (rejects.test(rcpt)) {
                        reply(out, "550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown");
                    } else {
                        rcpts.add(rcpt);
                        reply(out, "250 2.1.5 Ok");
                    }
                } else if (upper.equals("DATA")) {
                    if (from == null || rcpts.isEmpty()) {
                        reply(out, "554 5.5.1 No valid recipients");
                        continue;
                    }
                    reply(out, "354 End data with <CR><LF>.<CR><LF>");
                    byte[] data = readData(in);
                    if (data == null) {
                        return;
                    }
                    messages.add(new Received(from, List.copyOf(rcpts), data));
                    from = null;
                    rcpts = new ArrayList<>();
                    reply(out, "250 2.0.0 Ok: queued as " + messages.size());
                } else if (upper.equals("RSET")) {
                    from = null;
                    rcpts = new ArrayList<>();
                    reply(out, "250 2.0.0 Ok");
                } else if (upper.equals("NOOP")) {
                    reply(out, "250 2.0.0 Ok");
                } else if (upper.equals("QUIT")) {
                    reply(out, "221 2.0.0 Bye");
                    return;
                } else {
                    reply(out, "502 5.5.2 Error: command not recognized");
                }
            }
        } catch (IOException e) {
            if (!closed) {
                System.err.println("smtp-sink: session ended: " + e);
            }
        }
    }

    private static String address(String arg) {
        String a = arg.trim();
        int lt = a.indexOf('<');
        int gt = a.indexOf('>');
        return lt >= 0 && gt > lt ? a.substring(lt + 1, gt) : a.split(" ")[0];
    }

    /** Reads DATA up to CRLF.CRLF, undoing dot-stuffing; returns null on EOF. */
    private static byte[] readData(InputStream in) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        while (true) {
            line.reset();
            int prev = -1;
            while (true) {
                int c = in.read();
                if (c < 0) {
                    return null;
                }
                line.write(c);
                if (c == '\n' && prev == '\r') {
                    break;
                }
                prev = c;
            }
            byte[] l = line.toByteArray();
            if (l.length == 3 && l[0] == '.') {
                return body.toByteArray();
            }
            if (l[0] == '.') {
                body.write(l, 1, l.length - 1);
            } else {
                body.write(l, 0, l.length);
            }
        }
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int prev = -1;
        while (true) {
            int c = in.read();
            if (c < 0) {
                return null;
            }
            if (c == '\n' && prev == '\r') {
                byte[] bytes = b.toByteArray();
                return new String(bytes, 0, bytes.length - 1, StandardCharsets.UTF_8);
            }
            if (b.size() > MAX_LINE) {
                throw new IOException("line too long");
            }
            b.write(c);
            prev = c;
        }
    }

    private static void reply(OutputStream out, String text) throws IOException {
        out.write((text + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        closed = true;
        server.close();
        executor.shutdownNow();
    }
}
