package io.mailproxy.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The clients of {@code ha-kill}, all through HAProxy: SMTP submitters that behave as a careful client does (a
 * message not answered 250 is sent again, same Message-ID, on a new connection) and record which Message-IDs got
 * 250 and from which instance (the name in its 220 greeting), and IMAP sessions that fetch. Every client reconnects
 * after an error and keeps track of how long it saw errors: from its first failure to its next success.
 */
final class HaLoad {

    /** Pause after each message or fetch, so the load stays well inside the 2-core machine. */
    static final int THINK_MS = 50;
    static final int TRANSACTIONS_PER_CONNECTION = 20;
    static final int FETCHES_PER_SESSION = 10;
    static final int FETCH_OCTETS = 65536;
    private static final byte[] BODY = filler();

    /** One client's errors: each interval runs from a failure to the next success. */
    static final class Errors {
        private long since = -1;
        long failures;
        long recoveries;
        long unrecovered;
        long totalNanos;
        long longestNanos;

        synchronized void failed() {
            failures++;
            if (since < 0) {
                since = System.nanoTime();
            }
        }

        /** Returns whether this success ended an error interval (a recovery). */
        synchronized boolean succeeded() {
            if (since < 0) {
                return false;
            }
            close(System.nanoTime());
            recoveries++;
            return true;
        }

        synchronized void end() {
            if (since >= 0) {
                close(System.nanoTime());
                unrecovered++;
            }
        }

        private void close(long now) {
            long d = now - since;
            totalNanos += d;
            longestNanos = Math.max(longestNanos, d);
            since = -1;
        }
    }

    /** A message answered 250: by which instance, whether it went to the store-and-forward queue, and when. */
    record Acked(String instance, boolean queued, long nanos) {
    }

    final String run;
    final AtomicBoolean stop = new AtomicBoolean();
    final ConcurrentHashMap<String, Acked> acked = new ConcurrentHashMap<>();
    /** Message-IDs whose final dot got no reply at least once (the client could not know; it sent them again). */
    final Set<String> unansweredDot = ConcurrentHashMap.newKeySet();
    final List<Errors> smtpErrors = new CopyOnWriteArrayList<>();
    final List<Errors> imapErrors = new CopyOnWriteArrayList<>();
    final AtomicLong smtpTempFailures = new AtomicLong();
    final AtomicLong imapSessions = new AtomicLong();
    final AtomicLong imapFetches = new AtomicLong();
    private final InetSocketAddress smtp;
    private final InetSocketAddress imap;

    HaLoad(String run, InetSocketAddress smtp, InetSocketAddress imap) {
        this.run = run;
        this.smtp = smtp;
        this.imap = imap;
    }

    /** Submits messages as {@code client} until stopped; each gets a Message-ID unique to this run. */
    void smtpClient(String client, boolean queued) {
        Errors errors = new Errors();
        smtpErrors.add(errors);
        int seq = 0;
        String pending = null;
        while (!stop.get()) {
            try (Wire w = Wire.plain(smtp)) {
                String greeting = w.smtpReply();
                Wire.expect(greeting, "220 ");
                String instance = greeting.split(" ")[1];
                w.send("EHLO ha.test");
                Wire.expect(w.smtpReply(), "250");
                w.send("AUTH PLAIN " + Env.plain(client, Env.CLIENT_PASSWORD));
                Wire.expect(w.smtpReply(), "235");
                for (int t = 0; t < TRANSACTIONS_PER_CONNECTION && !stop.get(); t++) {
                    if (pending == null) {
                        pending = "<" + run + "." + client + "." + (++seq) + "@ha.test>";
                    }
                    w.send("MAIL FROM:<" + client + "@ha.test>");
                    String mail = w.smtpReply();
                    if (mail.startsWith("4")) {
                        temporary(errors);
                        continue;
                    }
                    Wire.expect(mail, "250");
                    w.send("RCPT TO:<sink@bench.test>");
                    Wire.expect(w.smtpReply(), "250");
                    w.send("DATA");
                    Wire.expect(w.smtpReply(), "354");
                    w.sendRaw(("Message-ID: " + pending + "\r\nFrom: " + client + "@ha.test\r\nTo: sink@bench.test\r\n"
                            + "Subject: ha-kill\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                    w.sendRaw(BODY);
                    w.send(".");
                    String reply;
                    try {
                        reply = w.smtpReply();
                    } catch (IOException e) {
                        unansweredDot.add(pending);
                        throw e;
                    }
                    if (reply.startsWith("250")) {
                        acked.put(pending, new Acked(instance, queued, System.nanoTime()));
                        pending = null;
                        errors.succeeded();
                    } else if (reply.startsWith("4")) {
                        temporary(errors);
                    } else {
                        throw new IOException("refused: " + reply);
                    }
                    pause(THINK_MS);
                }
                w.send("QUIT");
                w.smtpReply();
            } catch (IOException e) {
                errors.failed();
                pause(200);
            }
        }
        errors.end();
    }

    private void temporary(Errors errors) {
        smtpTempFailures.incrementAndGet();
        errors.failed();
        pause(200);
    }

    /** IMAP sessions as {@code client}: LOGIN, SELECT, ten partial fetches of random messages, LOGOUT, again. */
    void imapClient(String client, int messages) {
        Errors errors = new Errors();
        imapErrors.add(errors);
        while (!stop.get()) {
            try (Wire w = Wire.plain(imap)) {
                Wire.expect(w.line(), "* OK");
                Wire.expect(w.imap("a", "LOGIN " + client + " " + Env.CLIENT_PASSWORD, null), "a OK");
                Wire.expect(w.imap("b", "SELECT INBOX", null), "b OK");
                imapSessions.incrementAndGet();
                for (int i = 0; i < FETCHES_PER_SESSION && !stop.get(); i++) {
                    int uid = 1 + ThreadLocalRandom.current().nextInt(messages);
                    long[] octets = new long[1];
                    Wire.expect(w.imap("f" + i, "UID FETCH " + uid + " BODY.PEEK[]<0." + FETCH_OCTETS + ">", octets),
                            "f" + i + " OK");
                    if (octets[0] != FETCH_OCTETS) {
                        throw new IOException("fetched " + octets[0] + " octets, expected " + FETCH_OCTETS);
                    }
                    imapFetches.incrementAndGet();
                    errors.succeeded();
                    pause(THINK_MS);
                }
                w.imap("z", "LOGOUT", null);
            } catch (IOException e) {
                errors.failed();
                pause(200);
            }
        }
        errors.end();
    }

    private static void pause(int ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** About 4 KiB of 76-column text lines, none starting with a dot. */
    private static byte[] filler() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 53; i++) {
            b.append("x".repeat(74)).append(String.format("%02d", i % 100)).append("\r\n");
        }
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }
}
