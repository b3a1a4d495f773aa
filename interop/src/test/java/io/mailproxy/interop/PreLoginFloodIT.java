package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 13 item 5: 2,000 connections that never log in, held open and renewed (some closed, new ones opened, all
 * the time), must not lock out a client that logs in: over limits.max-unauthenticated (200) the proxy takes the new
 * connection and closes the oldest one not yet logged in, as Dovecot does. A client logs in and out 100 times in each
 * protocol, through to the real Dovecot, and is never refused. Loopback only (every address is exempt from the
 * per-address cap there).
 */
@ExtendWith(Interop.Extension.class)
class PreLoginFloodIT {

    static final String CLIENT = Proxy.client(BadInputIT.USER);
    static final int SILENT = 2_000;
    static final int LOGINS = 100;

    @Test
    void imapLoginsGetThroughTwoThousandSilentConnections(Interop env) throws Exception {
        underFlood(env.proxy().imapPort(), i -> {
            try (Wire w = Wire.proxy(env.proxy().imapPort())) {
                assertThat(w.line()).as("greeting of login %d", i).startsWith("* OK");
                w.send("a LOGIN " + CLIENT + " " + Proxy.secret(CLIENT));
                assertThat(w.until("a ")).as("login %d", i).contains("a OK");
                w.send("b LOGOUT");
                assertThat(w.until("b ")).contains("* BYE").contains("b OK");
            }
        });
    }

    @Test
    void pop3LoginsGetThroughTwoThousandSilentConnections(Interop env) throws Exception {
        underFlood(env.proxy().pop3Port(), i -> {
            try (Wire w = Wire.proxy(env.proxy().pop3Port())) {
                assertThat(w.line()).as("greeting of login %d", i).startsWith("+OK");
                w.send("USER " + CLIENT);
                assertThat(w.line()).startsWith("+OK");
                w.send("PASS " + Proxy.secret(CLIENT));
                assertThat(w.line()).as("login %d", i).startsWith("+OK");
                w.send("QUIT");
                assertThat(w.line()).startsWith("+OK");
            }
        });
    }

    @Test
    void smtpLoginsGetThroughTwoThousandSilentConnections(Interop env) throws Exception {
        underFlood(env.proxy().smtpPort(), i -> {
            try (Wire w = Wire.proxy(env.proxy().smtpPort())) {
                assertThat(w.line()).as("greeting of login %d", i).startsWith("220");
                w.send("EHLO client.test");
                assertThat(w.smtpReply()).startsWith("250 ");
                w.send("AUTH PLAIN " + Wire.plain(CLIENT, Proxy.secret(CLIENT)));
                assertThat(w.smtpReply()).as("login %d", i).startsWith("235");
                w.send("QUIT");
                assertThat(w.smtpReply()).startsWith("221");
            }
        });
    }

    private interface Login {
        void run(int i) throws IOException;
    }

    /**
     * Opens {@link #SILENT} connections to {@code port} that never send a byte, keeps renewing them from another
     * thread (10 closed and 10 opened every 200 ms: 50 a second, faster than the flood, which renews 2,000
     * as they time out, 33 a second), and meanwhile runs {@code login} {@link #LOGINS} times. A flood that brings
     * max-unauthenticated (200) new connections before a client's first command is read gets that client closed,
     * here as in Dovecot; the silent ones go first, so a client that has sent its command is safe.
     */
    private static void underFlood(int port, Login login) throws Exception {
        List<Socket> silent = new ArrayList<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger renewed = new AtomicInteger();
        Thread renewer = new Thread(() -> {
            while (!stop.get()) {
                try {
                    synchronized (silent) {
                        for (int i = 0; i < 10 && !silent.isEmpty(); i++) {
                            silent.remove(ThreadLocalRandom.current().nextInt(silent.size())).close();
                            silent.add(connect(port));
                            renewed.incrementAndGet();
                        }
                    }
                    TimeUnit.MILLISECONDS.sleep(200);   // the pace of the flood, not a wait for the proxy
                } catch (IOException | InterruptedException e) {
                    return;
                }
            }
        }, "silent-renewer");
        long t0 = System.nanoTime();
        try {
            for (int i = 0; i < SILENT; i++) {
                Socket s = connect(port);
                synchronized (silent) {
                    silent.add(s);
                }
            }
            // held: every one accepted and greeted (the kernel completes handshakes the proxy has not accepted yet,
            // and a burst of those accepted after a login's connection would all be newer than it)
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() -> {
                synchronized (silent) {
                    for (Socket s : silent) {
                        if (s.getInputStream().available() == 0) {
                            return false;
                        }
                    }
                    return true;
                }
            });
            renewer.start();
            for (int i = 0; i < LOGINS; i++) {
                login.run(i);
            }
        } finally {
            stop.set(true);
            renewer.join(TimeUnit.SECONDS.toMillis(10));
            synchronized (silent) {
                for (Socket s : silent) {
                    s.close();
                }
            }
        }
        System.out.printf("interop: %d logins through %d silent connections (%d renewed) on port %d took %d ms%n",
                LOGINS, SILENT, renewed.get(), port, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    }

    private static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(Proxy.HOST, port), 5000);
        return s;
    }
}
