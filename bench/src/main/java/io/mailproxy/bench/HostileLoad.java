package io.mailproxy.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Issue 9's hostile clients against the daemon, for {@link HostileBench}: logged-in IMAP sessions sending 1 MB
 * command lines in a loop, and logged-in SMTP sessions in a DATA that never ends. Each flood runs on a thread of its
 * own; {@link #resume} and {@link #pause} switch the load on and off between measurements (a paused IMAP flood has
 * read the reply to its last line; a paused SMTP flood sits in the middle of its DATA), and {@link #close} stops the
 * threads and closes their connections. The silent connections are {@link Silent}.
 */
final class HostileLoad implements AutoCloseable {

    static final int IMAP_FLOODS = 4;
    static final int SMTP_FLOODS = 2;
    /** {@code f SEARCH TEXT xxx…} CRLF: 1,000,000 octets in all. */
    static final byte[] IMAP_LINE = imapLine(1_000_000);
    /** One 1000-octet DATA line (998 + CRLF, the longest RFC 5321 allows). */
    static final byte[] DATA_LINE = ("y".repeat(998) + "\r\n").getBytes(StandardCharsets.US_ASCII);
    private static final int DATA_LINES_PER_CHECK = 64;
    /** A step (one 1 MB line and its reply, or 64 KB of DATA) normally takes milliseconds. */
    private static final long STALL_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final DaemonProcess daemon;
    private final Object lock = new Object();
    private boolean active;
    private boolean closed;
    private int busy;
    private final List<Flood> floods = new ArrayList<>();

    /** Octets the floods wrote while the load was on. */
    final AtomicLong imapBytes = new AtomicLong();
    final AtomicLong imapBad = new AtomicLong();
    final AtomicLong imapOther = new AtomicLong();
    final AtomicLong smtpBytes = new AtomicLong();
    final AtomicLong smtpAnswers = new AtomicLong();
    /** Connections of a flood that had to be replaced (closed or answered by the daemon). */
    final AtomicLong reconnects = new AtomicLong();
    /** Attempts to log a replacement in that failed (refused, closed, or timed out). */
    final AtomicLong loginFailures = new AtomicLong();
    /**
     * Flood connections the daemon stopped reading (or answering) for {@link #STALL_NANOS} without closing them:
     * the watchdog closes them, so they are replaced like closed ones.
     */
    final AtomicLong stalls = new AtomicLong();
    volatile String lastStall = "";
    private final Thread watchdog = new Thread(this::watch, "hostile-watchdog");
    volatile String lastImapReply = "";
    volatile String lastSmtpAnswer = "";
    volatile String lastLoginFailure = "";

    private HostileLoad(DaemonProcess daemon) {
        this.daemon = daemon;
    }

    /**
     * Logs the flood sessions in (IMAP accounts 2–5, SMTP accounts 6–7) and starts their threads, paused.
     *
     * @throws IOException if a flood session cannot log in
     */
    static HostileLoad start(DaemonProcess daemon) throws IOException {
        HostileLoad load = new HostileLoad(daemon);
        for (int i = 0; i < IMAP_FLOODS; i++) {
            load.floods.add(load.new ImapFlood(2 + i));
        }
        for (int i = 0; i < SMTP_FLOODS; i++) {
            load.floods.add(load.new SmtpFlood(2 + IMAP_FLOODS + i));
        }
        for (Flood f : load.floods) {
            f.wire = f.connect(); // before any silent connection takes the pre-login slots
            f.thread.start();
        }
        load.watchdog.setDaemon(true);
        load.watchdog.start();
        return load;
    }

    void resume() {
        synchronized (lock) {
            active = true;
            lock.notifyAll();
        }
    }

    /** Switches the load off and waits until every flood has finished its current step. */
    void pause() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        synchronized (lock) {
            active = false;
            while (busy > 0) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new IOException(busy + " hostile clients still busy 60 s after the load was switched off");
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
        }
    }

    /** Stops every flood thread and closes its connection; returns the number of threads that did not end. */
    int stop() throws InterruptedException {
        synchronized (lock) {
            closed = true;
            active = false;
            lock.notifyAll();
        }
        for (Flood f : floods) {
            Wire w = f.wire;
            if (w != null) {
                w.close(); // unblocks a write or read in progress
            }
        }
        watchdog.interrupt();
        watchdog.join(TimeUnit.SECONDS.toMillis(30));
        int alive = watchdog.isAlive() ? 1 : 0;
        for (Flood f : floods) {
            f.thread.join(TimeUnit.SECONDS.toMillis(30));
            if (f.thread.isAlive()) {
                alive++;
            }
        }
        return alive;
    }

    @Override
    public void close() {
        try {
            stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Closes a flood connection whose current step has not finished in {@link #STALL_NANOS}. */
    private void watch() {
        while (true) {
            synchronized (lock) {
                if (closed) {
                    return;
                }
            }
            long now = System.nanoTime();
            for (Flood f : floods) {
                long started = f.stepStarted;
                Wire w = f.wire;
                if (started != 0 && now - started > STALL_NANOS && w != null) {
                    stalls.incrementAndGet();
                    lastStall = f.thread.getName() + " after " + f.sessionBytes + " octets on its connection";
                    System.err.println("imap-hostile: the daemon stopped reading " + lastStall + "; closing it");
                    f.stepStarted = 0;
                    w.close();
                }
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private static byte[] imapLine(int total) {
        String head = "f SEARCH TEXT ";
        return (head + "x".repeat(total - head.length() - 2) + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** One hostile client: a connection and a step repeated while the load is on. */
    private abstract class Flood implements Runnable {

        final int account;
        final Thread thread;
        volatile Wire wire;
        /** System.nanoTime() when the current step began; 0 between steps. */
        volatile long stepStarted;
        /** Octets written on the current connection. */
        volatile long sessionBytes;

        Flood(int account, String name) {
            this.account = account;
            this.thread = new Thread(this, name);
            this.thread.setDaemon(true);
        }

        abstract Wire connect() throws IOException;

        /** One step of the flood; throws when the connection is gone or answered and must be replaced. */
        abstract void step(Wire w) throws IOException;

        @Override
        public void run() {
            while (true) {
                synchronized (lock) {
                    while (!active && !closed) {
                        try {
                            lock.wait();
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                    if (closed) {
                        return;
                    }
                    busy++;
                }
                try {
                    Wire w = wire;
                    if (w == null) {
                        try {
                            w = connect();
                            wire = w;
                            sessionBytes = 0;
                        } catch (IOException e) {
                            loginFailures.incrementAndGet();
                            lastLoginFailure = String.valueOf(e.getMessage());
                            sleepQuietly(100); // refused while the pre-login slots are taken: try again shortly
                            continue;
                        }
                    }
                    try {
                        stepStarted = System.nanoTime();
                        step(w);
                    } catch (IOException e) {
                        w.close();
                        wire = null;
                        reconnects.incrementAndGet();
                    }
                } finally {
                    stepStarted = 0;
                    synchronized (lock) {
                        busy--;
                        lock.notifyAll();
                    }
                }
            }
        }
    }

    /** A logged-in IMAP session sending 1 MB command lines, reading the reply to each before the next. */
    private final class ImapFlood extends Flood {

        ImapFlood(int account) {
            super(account, "hostile-imap-" + account);
        }

        @Override
        Wire connect() throws IOException {
            Wire w = Wire.plain(daemon.imapAddress());
            try {
                Wire.expect(w.line(), "* OK");
                Wire.expect(w.imap("a", "LOGIN " + Env.client(account) + " " + Env.CLIENT_PASSWORD, null), "a OK");
                return w;
            } catch (IOException e) {
                w.close();
                throw e;
            }
        }

        @Override
        void step(Wire w) throws IOException {
            w.sendRaw(IMAP_LINE);
            imapBytes.addAndGet(IMAP_LINE.length);
            sessionBytes += IMAP_LINE.length;
            while (true) {
                String l = w.line();
                if (l.startsWith("f BAD") || l.startsWith("* BAD")) {
                    imapBad.incrementAndGet();
                    lastImapReply = l;
                    return;
                }
                if (l.startsWith("f ") || l.startsWith("* BYE")) {
                    imapOther.incrementAndGet();
                    lastImapReply = l;
                    throw new IOException("answered " + l);
                }
            }
        }
    }

    /**
     * A logged-in SMTP session in a DATA that never ends: MAIL, RCPT, DATA, a two-line header and an empty line,
     * then 1000-octet lines without end. When the daemon answers (its size limit) or closes, the session is replaced.
     */
    private final class SmtpFlood extends Flood {

        SmtpFlood(int account) {
            super(account, "hostile-smtp-" + account);
        }

        @Override
        Wire connect() throws IOException {
            Wire w = Wire.plain(daemon.smtpAddress());
            try {
                Wire.expect(w.smtpReply(), "220");
                w.send("EHLO hostile.test");
                Wire.expect(w.smtpReply(), "250");
                w.send("AUTH PLAIN " + Env.plain(Env.client(account), Env.CLIENT_PASSWORD));
                Wire.expect(w.smtpReply(), "235");
                w.send("MAIL FROM:<" + Env.user(account) + ">");
                Wire.expect(w.smtpReply(), "250");
                w.send("RCPT TO:<sink@bench.test>");
                Wire.expect(w.smtpReply(), "250");
                w.send("DATA");
                Wire.expect(w.smtpReply(), "354");
                w.sendRaw(("From: <" + Env.user(account) + ">\r\nSubject: never-ending\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                return w;
            } catch (IOException e) {
                w.close();
                throw e;
            }
        }

        @Override
        void step(Wire w) throws IOException {
            for (int i = 0; i < DATA_LINES_PER_CHECK; i++) {
                w.sendRaw(DATA_LINE);
            }
            smtpBytes.addAndGet((long) DATA_LINES_PER_CHECK * DATA_LINE.length);
            sessionBytes += (long) DATA_LINES_PER_CHECK * DATA_LINE.length;
            if (w.readable()) {
                String answer = w.smtpReply();
                smtpAnswers.incrementAndGet();
                lastSmtpAnswer = answer;
                throw new IOException("answered " + answer);
            }
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Raw TCP connections opened to the daemon's listeners (round robin) and never written to. Non-blocking
     * channels, so {@link #held} can tell, without waiting, which ones the daemon has closed.
     */
    static final class Silent implements AutoCloseable {

        final List<SocketChannel> channels = new ArrayList<>();
        final int attempted;
        /** Connects that failed (the OS or a full accept queue), not counting the daemon's refusals. */
        final int failed;
        final double seconds;
        private String firstFailure = "";

        private Silent(int attempted, int failed, double seconds) {
            this.attempted = attempted;
            this.failed = failed;
            this.seconds = seconds;
        }

        static Silent open(int n, InetSocketAddress... targets) throws IOException {
            List<SocketChannel> open = new ArrayList<>(n);
            int failed = 0;
            String firstFailure = "";
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                SocketChannel ch = SocketChannel.open();
                try {
                    ch.setOption(StandardSocketOptions.SO_RCVBUF, 4096);
                    ch.socket().connect(targets[i % targets.length], 5000);
                    ch.configureBlocking(false);
                    open.add(ch);
                } catch (IOException e) {
                    ch.close();
                    if (failed++ == 0) {
                        firstFailure = String.valueOf(e);
                    }
                }
            }
            Silent s = new Silent(n, failed, (System.nanoTime() - t0) / 1e9);
            s.channels.addAll(open);
            s.firstFailure = firstFailure;
            return s;
        }

        String firstFailure() {
            return firstFailure;
        }

        /** How many of the connections the daemon still holds open (reads and discards what it sent). */
        int held() throws IOException {
            ByteBuffer b = ByteBuffer.allocate(1024);
            int held = 0;
            for (SocketChannel ch : channels) {
                if (!ch.isOpen()) {
                    continue;
                }
                int n;
                try {
                    do {
                        b.clear();
                        n = ch.read(b);
                    } while (n > 0);
                } catch (IOException reset) {
                    n = -1;
                }
                if (n < 0) {
                    ch.close();
                } else {
                    held++;
                }
            }
            return held;
        }

        @Override
        public void close() {
            for (SocketChannel ch : channels) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // closing a benchmark connection
                }
            }
        }
    }
}
