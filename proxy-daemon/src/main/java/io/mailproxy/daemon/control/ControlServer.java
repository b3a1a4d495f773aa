package io.mailproxy.daemon.control;

import io.mailproxy.core.credentials.SecretStore;
import io.mailproxy.core.spi.QueueAdmin;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Reader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Serves the control socket on a thread of its own (never an event loop), one short request at a time. */
public final class ControlServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ControlServer.class);

    private final Path path;
    private final ServerSocketChannel server;
    private final SecretStore secrets;
    private final Supplier<List<String>> status;
    private final Supplier<List<String>> check;
    private final Thread thread;
    /** The SMTP store-and-forward queue, once the daemon has it (QUEUE-* requests). */
    private volatile QueueAdmin queue;

    private ControlServer(Path path, ServerSocketChannel server, SecretStore secrets, Supplier<List<String>> status,
                          Supplier<List<String>> check) {
        this.path = path;
        this.server = server;
        this.secrets = secrets;
        this.status = status;
        this.check = check;
        this.thread = new Thread(this::serve, "mailproxy-control");
        this.thread.setDaemon(true);
    }

    /** Binds {@code <stateDir>/control.sock} with mode 0600, replacing a stale socket file left by a crash. */
    public static ControlServer start(Path stateDir, SecretStore secrets, Supplier<List<String>> status,
                                      Supplier<List<String>> check) throws IOException {
        Path path = ControlClient.socketPath(stateDir);
        Files.createDirectories(stateDir);
        if (Files.exists(path)) {
            if (ControlClient.isRunning(stateDir)) {
                throw new IOException("another mailproxy is running with state-dir " + stateDir
                        + " (its control socket " + path + " answers)");
            }
            Files.delete(path);
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(path));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
        ControlServer cs = new ControlServer(path, server, secrets, status, check);
        cs.thread.start();
        log.info("control socket: {}", path);
        return cs;
    }

    private volatile java.util.function.Predicate<String> readable = name -> false;

    /**
     * Which secrets SECRET-GET may return: only an OAuth 2.0 client's secret, which {@code ./mailproxy login} needs
     * to redeem a consent at the token endpoint while the master key is the service's alone. Refresh tokens and
     * account passwords never leave the daemon.
     */
    public void readableSecrets(java.util.function.Predicate<String> names) {
        this.readable = names;
    }

    /** Serves QUEUE-LIST, QUEUE-RETRY and QUEUE-DELETE from this queue. */
    public void queue(QueueAdmin queue) {
        this.queue = queue;
    }

    /** Requests served at once; one more connection than this is closed at once. */
    private static final int MAX_CONCURRENT = 8;
    /** A client must send its whole request within this (a silent client cannot hold the socket). */
    private static final long REQUEST_DEADLINE_SECONDS = 10;

    private final java.util.concurrent.Semaphore slots = new java.util.concurrent.Semaphore(MAX_CONCURRENT);
    private final java.util.concurrent.ScheduledExecutorService deadlines =
            java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "mailproxy-control-deadline");
                t.setDaemon(true);
                return t;
            });

    private void serve() {
        while (server.isOpen()) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (IOException e) {
                if (server.isOpen()) {
                    log.warn("control socket: {}", e.toString());
                }
                continue;
            }
            if (!allowedPeer(ch) || !slots.tryAcquire()) {
                closeQuietly(ch);
                continue;
            }
            Thread t = new Thread(() -> {
                try (ch) {
                    handle(ch);
                } catch (IOException e) {
                    log.debug("control socket request: {}", e.toString());
                } catch (RuntimeException e) {
                    log.error("control socket request failed: {}", e.toString());
                } finally {
                    slots.release();
                }
            }, "mailproxy-control-request");
            t.setDaemon(true);
            t.start();
        }
    }

    /** Only this daemon's own user (the service account) or root may talk to it, whatever the socket's mode. */
    private static boolean allowedPeer(SocketChannel ch) {
        try {
            java.nio.file.attribute.UserPrincipal peer =
                    ch.getOption(jdk.net.ExtendedSocketOptions.SO_PEERCRED).user();
            String me = System.getProperty("user.name");
            if (peer.getName().equals(me) || peer.getName().equals("root")) {
                return true;
            }
            log.warn("control socket: refused a connection from user {}", peer.getName());
            return false;
        } catch (IOException | UnsupportedOperationException e) {
            return true; // no peer credentials on this platform: the socket's 0600 mode is the guard
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing to do
        }
    }

    private void handle(SocketChannel ch) throws IOException {
        Reader raw = new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8);
        BoundedReader bounded = new BoundedReader(raw, ControlProtocol.MAX_REQUEST);
        BufferedReader in = new BufferedReader(bounded);
        PrintWriter out = new PrintWriter(new OutputStreamWriter(Channels.newOutputStream(ch), StandardCharsets.UTF_8));
        java.util.concurrent.ScheduledFuture<?> deadline =
                deadlines.schedule(() -> closeQuietly(ch), REQUEST_DEADLINE_SECONDS, java.util.concurrent.TimeUnit.SECONDS);
        String request = in.readLine();
        if (request == null) {
            return;
        }
        int sp = request.indexOf(' ');
        String verb = sp < 0 ? request : request.substring(0, sp);
        if (!verb.equals(ControlProtocol.SECRET_PUT)) {
            deadline.cancel(false); // the request is in; CHECK may then take a minute
        }
        String arg = sp < 0 ? "" : request.substring(sp + 1);
        try {
            switch (verb) {
                case ControlProtocol.PING -> out.print("OK\n");
                case ControlProtocol.SECRET_PUT -> {
                    String line = requireLine(in);
                    deadline.cancel(false);
                    if (bounded.exhausted()) {
                        // a value cut at the request limit would decode to a shorter secret: never store that
                        throw new IllegalArgumentException("value too large for the control socket (at most "
                                + ControlProtocol.MAX_REQUEST / 2 + " characters)");
                    }
                    String value = ControlProtocol.decode(line);
                    secrets.put(requireName(arg), value);
                    log.info("secret {} stored (through the control socket)", arg);
                    out.print("OK\n");
                }
                case ControlProtocol.SECRET_DELETE -> {
                    boolean existed = secrets.delete(requireName(arg));
                    log.info("secret {} {} (through the control socket)", arg, existed ? "deleted" : "was not stored");
                    out.print(existed ? "OK\n" : "ERR no secret named " + arg + "\n");
                }
                case ControlProtocol.SECRET_GET -> {
                    String name = requireName(arg);
                    if (!readable.test(name)) {
                        throw new IllegalArgumentException("secret " + name + " is not an OAuth 2.0 client secret of "
                                + "the running configuration; only those can be read");
                    }
                    Optional<String> value = secrets.get(name);
                    if (value.isEmpty()) {
                        throw new IllegalArgumentException("no secret named " + name);
                    }
                    log.info("client secret {} read by {} (through the control socket)", name, "an admin command");
                    out.print("OK\n" + ControlProtocol.encode(value.get()) + "\n");
                }
                case ControlProtocol.SECRET_LIST -> {
                    out.print("OK\n");
                    secrets.names().forEach(n -> out.print(n + "\n"));
                }
                case ControlProtocol.STATUS -> {
                    out.print("OK\n");
                    status.get().forEach(l -> out.print(l + "\n"));
                }
                case ControlProtocol.CHECK -> {
                    List<String> lines = check.get();
                    // the last line says whether every row passed
                    out.print("OK\n");
                    lines.forEach(l -> out.print(l + "\n"));
                }
                case ControlProtocol.QUEUE_LIST, ControlProtocol.QUEUE_RETRY, ControlProtocol.QUEUE_DELETE ->
                        queueRequest(verb, arg, out);
                default -> out.print("ERR unknown request " + verb + "\n");
            }
        } catch (IllegalArgumentException | IllegalStateException e) {
            out.print("ERR " + e.getMessage() + "\n");
        }
        out.print(ControlProtocol.END + "\n");
        out.flush();
    }

    private void queueRequest(String verb, String arg, PrintWriter out) {
        QueueAdmin q = queue;
        if (q == null) {
            throw new IllegalStateException("the SMTP queue is not available in this daemon");
        }
        try {
            queueRequest(q, verb, arg, out);
        } catch (IOException e) {
            throw new IllegalStateException("spool error: " + e.getMessage(), e);
        }
    }

    private static void queueRequest(QueueAdmin q, String verb, String arg, PrintWriter out)
            throws IOException {
        switch (verb) {
            case ControlProtocol.QUEUE_LIST -> {
                var messages = q.list();
                out.print("OK\n");
                messages.forEach(m -> out.print(m.line() + "\n"));
            }
            case ControlProtocol.QUEUE_RETRY -> {
                int n = q.retry(arg);
                out.print("OK\n" + n + " message(s) made due now\n");
            }
            default -> {
                q.delete(arg);
                out.print("OK\ndeleted " + arg + "\n");
            }
        }
    }

    private static String requireLine(BufferedReader in) throws IOException {
        String line = in.readLine();
        if (line == null) {
            throw new IllegalArgumentException("missing value line");
        }
        return line;
    }

    private static String requireName(String name) {
        if (name.isEmpty() || !name.matches("[A-Za-z0-9._:@+-]{1,200}")) {
            throw new IllegalArgumentException("bad secret name: expected letters, digits and . _ : @ + -");
        }
        return name;
    }

    @Override
    public void close() {
        deadlines.shutdownNow();
        try {
            server.close();
            Files.deleteIfExists(path);
        } catch (IOException e) {
            log.debug("closing control socket: {}", e.toString());
        }
    }

    /** Stops reading after {@code max} characters so a client cannot make the daemon buffer without bound. */
    private static final class BoundedReader extends Reader {
        private final Reader in;
        private int left;

        BoundedReader(Reader in, int max) {
            this.in = in;
            this.left = max;
        }

        /** True once the limit was reached: what was read may be cut short. */
        boolean exhausted() {
            return left <= 0;
        }

        @Override
        public int read(char[] buf, int off, int len) throws IOException {
            if (left <= 0) {
                return -1;
            }
            int n = in.read(buf, off, Math.min(len, left));
            if (n > 0) {
                left -= n;
            }
            return n;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }
}
