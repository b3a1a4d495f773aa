package io.mailproxy.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The relay Dovecot's submission service hands messages to: a plaintext ESMTP sink on loopback that accepts and
 * discards, counting the messages, so the SMTP figure measures submission, not delivery.
 */
final class SmtpSink implements AutoCloseable {

    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "bench-sink");
        t.setDaemon(true);
        return t;
    });
    final AtomicLong delivered = new AtomicLong();
    /** When set (ha-kill), each message's Message-ID is counted here, so lost and duplicated messages show. */
    volatile java.util.concurrent.ConcurrentHashMap<String, Integer> messageIds;

    SmtpSink() throws IOException {
        server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 512);
        threads.execute(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                threads.execute(() -> serve(s));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (Wire w = Wire.accepted(s)) {
            w.send("220 sink ESMTP");
            while (true) {
                String line = w.line();
                String verb = line.length() >= 4 ? line.substring(0, 4).toUpperCase(java.util.Locale.ROOT) : line;
                switch (verb) {
                    case "EHLO" -> w.send("250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600");
                    case "DATA" -> {
                        w.send("354 go ahead");
                        var ids = messageIds;
                        if (ids == null) {
                            w.dotTerminated();
                        } else {
                            String id = null;
                            for (String l = w.line(); !l.equals("."); l = w.line()) {
                                if (id == null && l.regionMatches(true, 0, "Message-ID:", 0, 11)) {
                                    id = l.substring(11).trim();
                                }
                            }
                            ids.merge(id == null ? "(none)" : id, 1, Integer::sum);
                        }
                        delivered.incrementAndGet();
                        w.send("250 2.0.0 accepted");
                    }
                    case "QUIT" -> {
                        w.send("221 2.0.0 bye");
                        return;
                    }
                    default -> w.send("250 2.0.0 ok");
                }
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        threads.shutdownNow();
    }
}
