package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Bad input from clients: lines of 1 MB, NUL bytes, a literal announcing 2^63 bytes, a never-ending DATA, SMTP
 * smuggling, invalid UTF-8, pipelined garbage, commands in the wrong state, and thousands of silent connections while a well-behaved client keeps
 * working. Each time: the protocol's error (DESIGN's table) or a closed connection, and nobody else affected.
 */
@ExtendWith(Interop.Extension.class)
class BadInputIT {

    static final String USER = "badinput@" + Interop.DOMAIN;
    static final String CLIENT = Proxy.client(USER);
    static final String MEGABYTE = "x".repeat(1024 * 1024);

    Interop env;
    Proxy proxy;

    @BeforeEach
    void setUp(Interop env) throws IOException {
        this.env = env;
        this.proxy = env.proxy();
        env.clear(USER);
    }

    @Test
    void imapLineOfOneMegabyteBeforeLoginIsBadAndClosed() throws IOException {
        try (Wire w = Wire.proxy(proxy.imapPort())) {
            assertThat(w.line()).startsWith("* OK");
            String reply = sendTolerant(w, "a LOGIN " + MEGABYTE + " x\r\n");
            assertThat(reply).as("DESIGN: BAD, close before login").containsPattern("(^|\\n)(a|\\*) BAD");
            assertThat(reply).doesNotEndWith("<<read timed out>>");
        }
    }

    @Test
    void imapLineOfOneMegabyteAfterLoginIsBadAndTheSessionGoesOn() throws IOException {
        try (Wire w = imapLogin()) {
            w.raw(("b SEARCH TEXT " + MEGABYTE + "\r\n").getBytes(StandardCharsets.US_ASCII));
            String l = w.line();
            assertThat(l).as("DESIGN: BAD").matches("(b|\\*) BAD.*");
            w.send("c NOOP");
            assertThat(w.until("c ")).contains("c OK");
        }
    }

    @Test
    void imapLiteralAnnouncing2To63BytesIsRefused() throws IOException {
        try (Wire w = Wire.proxy(proxy.imapPort())) {
            assertThat(w.line()).startsWith("* OK");
            w.send("a LOGIN {9223372036854775808}");
            String l = w.line();
            assertThat(l).as("no continuation for an impossible literal").isNotNull().doesNotStartWith("+");
            assertThat(l).matches("(a|\\*) BAD.*");
        }
        try (Wire w = imapLogin()) {
            w.send("b APPEND INBOX {9223372036854775807}");
            String l = w.line();
            assertThat(l).as("no continuation for an impossible literal").isNotNull().doesNotStartWith("+");
            assertThat(l).matches("(b|\\*) (BAD|NO).*");
        }
        try (UpstreamMailbox m = env.mailbox(USER)) {
            assertThat(m.count("INBOX")).isZero();
        }
    }

    @Test
    void imapNulByteIsRefused() throws IOException {
        try (Wire w = Wire.proxy(proxy.imapPort())) {
            assertThat(w.line()).startsWith("* OK");
            w.raw("a LOGIN app\0x secret\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(w.line()).matches("(a|\\*) (BAD|NO).*");
        }
        try (Wire w = imapLogin()) {
            w.raw("b SELECT IN\0BOX\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(w.line()).matches("(b|\\*) (BAD|NO).*");
            w.send("c NOOP");
            assertThat(w.until("c ")).contains("c OK");
        }
    }

    @Test
    void pop3NulByteIsRefused() throws IOException {
        try (Wire w = Wire.proxy(proxy.pop3Port())) {
            assertThat(w.line()).startsWith("+OK");
            w.raw("USER app\0x\r\n".getBytes(StandardCharsets.US_ASCII));
            String l = w.line();
            if (l.startsWith("+OK")) { // accepted as a name: the PASS must fail, not log in someone else
                w.send("PASS " + Proxy.secret(CLIENT));
                l = w.line();
            }
            assertThat(l).startsWith("-ERR");
        }
    }

    @Test
    void smtpNulByteInAnAddressIsRefused() throws IOException {
        try (Wire w = smtpLogin()) {
            w.raw(("MAIL FROM:<bad\0user@elsewhere.test>\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(w.smtpReply()).matches("5\\d\\d .*");
            w.send("MAIL FROM:<" + USER + ">");
            assertThat(w.smtpReply()).startsWith("250");
            w.raw(("RCPT TO:<nul\0@elsewhere.test>\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(w.smtpReply()).matches("5\\d\\d .*");
        }
    }

    /** Client-chosen bytes in a log line (a NUL, a forged line end) must be escaped, not written raw. */
    @Test
    void controlCharactersFromClientsNeverReachTheLogRaw() throws IOException {
        long mark = env.logs.mark();
        try (Wire w = Wire.proxy(proxy.imapPort())) {
            assertThat(w.line()).startsWith("* OK");
            w.raw("a LOGIN \"app\0x\rINFO forged\" secret\r\n".getBytes(StandardCharsets.US_ASCII));
            w.line();
        }
        try (Wire w = Wire.proxy(proxy.pop3Port())) {
            assertThat(w.line()).startsWith("+OK");
            w.raw("USER app\0y\rINFO forged\r\n".getBytes(StandardCharsets.US_ASCII));
            w.line();
            w.send("PASS secret");
            w.line();
        }
        try (Wire w = Wire.proxy(proxy.smtpPort())) {
            assertThat(w.line()).startsWith("220");
            w.send("EHLO client.test");
            w.smtpReply();
            // not a NUL: RFC 4616 allows none in the authcid, so "app\0z..." is refused as malformed before any name
            // is logged; another control character still reaches the login name and the log
            w.send("AUTH PLAIN " + Wire.plain("app\u0001z\rINFO forged", "secret"));
            w.smtpReply();
        }
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
                .until(() -> env.logs.since(mark).size() >= 3);
        assertThat(env.logs.since(mark)).as("log lines since the hostile logins")
                .noneMatch(l -> l.chars().anyMatch(c -> c < 0x20 && c != '\t'));
    }

    /** RFC 5321 4.1.1.1: EHLO takes a domain or an address literal; a NUL byte is neither. */
    @Test
    void smtpEhloWithANulByteIsRefused() throws IOException {
        try (Wire w = Wire.proxy(proxy.smtpPort())) {
            assertThat(w.line()).startsWith("220");
            w.raw("EHLO a\0b\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(w.smtpReply()).matches("5\\d\\d .*");
        }
    }

    @Test
    void pop3AndSmtpLinesOfOneMegabyteAreRefused() throws IOException {
        try (Wire w = Wire.proxy(proxy.smtpPort())) {
            assertThat(w.line()).startsWith("220");
            String reply = sendTolerant(w, "EHLO " + MEGABYTE + "\r\n");
            assertThat(reply).as("DESIGN: 500 5.5.2").startsWith("500 5.5.2");
        }
        try (Wire w = Wire.proxy(proxy.pop3Port())) {
            assertThat(w.line()).startsWith("+OK");
            String reply = sendTolerant(w, "USER " + MEGABYTE + "\r\n");
            assertThat(reply).as("DESIGN: -ERR").startsWith("-ERR");
        }
    }

    @Test
    void commandsInTheWrongStateAreRefused() throws IOException {
        try (Wire w = Wire.proxy(proxy.imapPort())) {
            assertThat(w.line()).startsWith("* OK");
            w.send("a SELECT INBOX");
            assertThat(w.line()).matches("a (BAD|NO).*");
            w.send("b FETCH 1 BODY[]");
            assertThat(w.line()).matches("b (BAD|NO).*");
        }
        try (Wire w = Wire.proxy(proxy.smtpPort())) {
            assertThat(w.line()).startsWith("220");
            w.send("EHLO client.test");
            w.smtpReply();
            w.send("DATA");
            assertThat(w.smtpReply()).startsWith("5");
            w.send("RCPT TO:<a@elsewhere.test>");
            assertThat(w.smtpReply()).startsWith("5");
            w.send("MAIL FROM:<" + USER + ">");
            assertThat(w.smtpReply()).as("MAIL before AUTH").matches("5\\d\\d .*");
        }
        try (Wire w = Wire.proxy(proxy.pop3Port())) {
            assertThat(w.line()).startsWith("+OK");
            w.send("STAT");
            assertThat(w.line()).startsWith("-ERR");
            w.send("PASS x");
            assertThat(w.line()).startsWith("-ERR");
        }
    }

    @Test
    void neverEndingDataHitsTheSizeLimitAndNothingIsDelivered() throws Exception {
        String rcpt = "endless@elsewhere.test";
        try (Wire w = smtpLogin()) {
            w.send("MAIL FROM:<" + USER + ">");
            assertThat(w.smtpReply()).startsWith("250");
            w.send("RCPT TO:<" + rcpt + ">");
            assertThat(w.smtpReply()).startsWith("250");
            w.send("DATA");
            assertThat(w.smtpReply()).startsWith("354");
            // the sender writes on its own thread, so a proxy that stops reading cannot hang the check
            // the client's max-size is 1M; 64 MiB after that refusal (max-discard) the proxy gives up on it and closes
            long limit = 4L << 30;
            java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
            CompletableFuture<String> sender = new CompletableFuture<>();
            Thread t = new Thread(() -> {
                byte[] chunk = ("Subject: endless\r\n\r\n" + "y".repeat(998) + "\r\n")
                        .getBytes(StandardCharsets.US_ASCII);
                try {
                    while (sent.get() < limit) {
                        w.raw(chunk);
                        sent.addAndGet(chunk.length);
                    }
                    w.raw("\r\n.\r\n".getBytes(StandardCharsets.US_ASCII));
                    sender.complete("sent all " + sent.get() + " bytes and the end of data");
                } catch (IOException e) {
                    sender.complete("closed by the proxy after " + sent.get() + " bytes");
                }
            }, "endless-data");
            t.setDaemon(true);
            t.start();
            String reply = w.smtpReply();
            assertThat(reply).as("DESIGN: 552 5.3.4 (after %d bytes sent)", sent.get()).startsWith("552 5.3.4")
                    .endsWith("closing connection");
            try {
                String how = sender.get(30, TimeUnit.SECONDS);
                System.out.println("interop: never-ending DATA: 552 after the client had sent " + sent.get()
                        + " bytes; then " + how);
                assertThat(how).as("a DATA that never ends is cut off").startsWith("closed by the proxy");
            } catch (java.util.concurrent.TimeoutException e) {
                throw new AssertionError("after its 552 the proxy neither read on (discarding) nor closed the"
                        + " connection: a client still sending blocks; it had sent " + sent.get() + " bytes");
            }
        }
        assertThat(env.sink.messagesTo(rcpt)).isEmpty();
    }

    @Test
    void smtpSmugglingSequencesNeverSmuggleASecondMessage() throws IOException {
        String rcpt = "smuggle-carrier@elsewhere.test";
        String smuggled = "smuggled@elsewhere.test";
        for (String end : List.of("\n.\r\n", "\r\n.\n", "\r.\r\n", "\n.\n")) {
            try (Wire w = smtpLogin()) {
                w.send("MAIL FROM:<" + USER + ">");
                assertThat(w.smtpReply()).startsWith("250");
                w.send("RCPT TO:<" + rcpt + ">");
                assertThat(w.smtpReply()).startsWith("250");
                w.send("DATA");
                assertThat(w.smtpReply()).startsWith("354");
                w.raw(("Subject: smuggling\r\n\r\nhello" + end + "MAIL FROM:<" + USER + ">\r\nRCPT TO:<" + smuggled
                        + ">\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\n").getBytes(StandardCharsets.US_ASCII));
                String first = w.smtpReply();
                assertThat(first).as("after a bare CR/LF end sequence %s", end.replace("\r", "\\r")
                        .replace("\n", "\\n")).doesNotStartWith("250");
            }
        }
        assertThat(env.sink.messagesTo(smuggled)).as("no smuggled message").isEmpty();
    }

    /**
     * Hostile load all at once: 10,000 connections opened and left silent (beyond max-unauthenticated 200, so each
     * new one closes the oldest not logged in), logged-in IMAP sessions flooding 1 MB lines, and SMTP
     * sessions sending never-ending DATA. Meanwhile a logged-in client fetches: it must get every byte, and the
     * proxy's memory (heap after a full GC, and Netty's direct buffers) must stay bounded. The figures are printed;
     * the time bound is a sanity limit only (speed is measured in bench/).
     */
    @Test
    void hostileLoadLeavesAWellBehavedClientWorkingAndMemoryBounded() throws Exception {
        byte[] msg = Messages.message(USER, USER, "busy", 50 * 1024, 71);
        long uid;
        try (UpstreamMailbox m = env.mailbox(USER)) {
            uid = m.append("INBOX", msg);
        }
        List<java.net.Socket> silent = new ArrayList<>();
        List<Thread> hostile = new ArrayList<>();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicLong hostileBytes = new java.util.concurrent.atomic.AtomicLong();
        try (Wire good = imapLogin()) {
            good.send("b EXAMINE INBOX");
            assertThat(good.until("b ")).contains("b OK");
            long alone = fetches(good, uid, msg, "alone");
            Memory before = Memory.now();

            for (int i = 0; i < 4; i++) { // logged-in IMAP sessions sending 1 MB lines as fast as they are read
                Wire flood = imapLogin();
                hostile.add(start("imap-flood-" + i, () -> {
                    byte[] line = ("f SEARCH TEXT " + MEGABYTE + "\r\n").getBytes(StandardCharsets.US_ASCII);
                    while (!stop.get()) {
                        flood.raw(line);
                        hostileBytes.addAndGet(line.length);
                        assertThat(flood.line()).matches("(f|\\*) BAD.*");
                    }
                    flood.close();
                }));
            }
            for (int i = 0; i < 2; i++) { // SMTP sessions in a DATA that never ends
                Wire data = smtpLogin();
                data.send("MAIL FROM:<" + USER + ">");
                assertThat(data.smtpReply()).startsWith("250");
                data.send("RCPT TO:<endless-" + i + "@elsewhere.test>");
                assertThat(data.smtpReply()).startsWith("250");
                data.send("DATA");
                assertThat(data.smtpReply()).startsWith("354");
                hostile.add(start("endless-data-" + i, () -> {
                    byte[] chunk = ("y".repeat(998) + "\r\n").getBytes(StandardCharsets.US_ASCII);
                    while (!stop.get()) {
                        data.raw(chunk); // until the proxy closes it, or the test ends
                        hostileBytes.addAndGet(chunk.length);
                    }
                    data.close();
                }));
            }
            int[] ports = {proxy.imapPort(), proxy.pop3Port(), proxy.smtpPort()};
            for (int i = 0; i < 10_000; i++) {
                try {
                    java.net.Socket s = new java.net.Socket();
                    s.connect(new java.net.InetSocketAddress(Proxy.HOST, ports[i % 3]), 5000);
                    silent.add(s);
                } catch (IOException e) {
                    break; // the OS refuses more: the point is the good client
                }
            }
            long loaded = fetches(good, uid, msg, "under load");
            Memory during = Memory.now();
            System.out.printf("interop: hostile load (%d silent connections, 4 IMAP sessions flooding 1 MB lines,"
                    + " 2 never-ending DATA; %d MB sent by them): 20 fetches of 50 KB took %d ms (%d ms alone, %.1fx);"
                    + " heap after GC %d -> %d MiB, direct memory %d -> %d MiB%n", silent.size(),
                    hostileBytes.get() >> 20, loaded, alone, (double) loaded / Math.max(1, alone),
                    before.heapMiB(), during.heapMiB(), before.directMiB(), during.directMiB());
            assertThat(loaded).as("the well-behaved client keeps working (sanity bound, not a benchmark)")
                    .isLessThan(30_000);
            // 2,000 accepted connections of a few KB each, plus this JVM's own 10,000 client sockets
            assertThat(during.heapMiB() - before.heapMiB()).as("heap growth under hostile load, MiB").isLessThan(128);
            assertThat(during.directMiB() - before.directMiB()).as("direct memory growth, MiB").isLessThan(128);
        } finally {
            stop.set(true);
            for (java.net.Socket s : silent) {
                s.close();
            }
            for (Thread t : hostile) {
                t.join(TimeUnit.SECONDS.toMillis(30));
            }
        }
        // and once they are gone, new logins work at once
        try (Wire w = imapLogin()) {
            w.send("b STATUS INBOX (MESSAGES)");
            assertThat(w.until("b ")).contains("MESSAGES 1");
        }
    }

    /** Milliseconds for 20 exact UID FETCHes of {@code msg}. */
    private static long fetches(Wire good, long uid, byte[] msg, String when) throws IOException {
        long t0 = System.nanoTime();
        for (int i = 0; i < 20; i++) {
            good.send("c" + i + " UID FETCH " + uid + " BODY.PEEK[]");
            String head = good.line();
            assertThat(head).endsWith("{" + msg.length + "}");
            Exact.assertSameBytes("fetch " + i + " " + when, good.read(msg.length), msg);
            assertThat(good.until("c" + i + " ")).contains("c" + i + " OK");
        }
        return (System.nanoTime() - t0) / 1_000_000;
    }

    interface IoRunnable {
        void run() throws Exception;
    }

    /** A hostile client on a thread of its own; the proxy closing on it ends it quietly. */
    private static Thread start(String name, IoRunnable body) {
        Thread t = new Thread(() -> {
            try {
                body.run();
            } catch (Exception | AssertionError closedOrRefused) {
                // the proxy may close a hostile connection: that is one of the allowed answers
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Heap in use after a full GC, and direct memory in use: what Netty allocates without a cleaner (its own counter)
     * plus the JDK's direct buffer pool.
     */
    record Memory(long heapMiB, long directMiB) {
        static Memory now() {
            java.lang.management.MemoryMXBean mx = java.lang.management.ManagementFactory.getMemoryMXBean();
            for (int i = 0; i < 3; i++) {
                System.gc();
            }
            long direct = Math.max(0, io.netty.util.internal.PlatformDependent.usedDirectMemory());
            for (java.lang.management.BufferPoolMXBean pool
                    : java.lang.management.ManagementFactory.getPlatformMXBeans(
                            java.lang.management.BufferPoolMXBean.class)) {
                if (pool.getName().equals("direct")) {
                    direct += pool.getMemoryUsed();
                }
            }
            return new Memory(mx.getHeapMemoryUsage().getUsed() >> 20, direct >> 20);
        }
    }

    @Test
    void invalidUtf8IsRefusedAndLogsInNobody() throws IOException {
        byte[] bad = {(byte) 0xC3, (byte) 0x28, (byte) 0xFF, (byte) 0xFE};
        try (Wire w = Wire.proxy(proxy.imapPort())) {
            assertThat(w.line()).startsWith("* OK");
            w.raw(concat("a LOGIN app-", bad, " " + Proxy.secret(CLIENT) + "\r\n"));
            assertThat(w.line()).matches("(a|\\*) (BAD|NO).*");
        }
        try (Wire w = Wire.proxy(proxy.smtpPort())) {
            assertThat(w.line()).startsWith("220");
            w.send("EHLO client.test");
            assertThat(w.smtpReply()).startsWith("250 ");
            w.raw(concat("AUTH PLAIN ", new byte[0], Wire.plain(CLIENT + new String(bad, StandardCharsets.ISO_8859_1),
                    Proxy.secret(CLIENT)) + "\r\n"));
            assertThat(w.smtpReply()).matches("5\\d\\d .*");
            w.raw(concat("MAIL FROM:<", bad, "@elsewhere.test>\r\n"));
            assertThat(w.smtpReply()).matches("5\\d\\d .*");
        }
    }

    @Test
    void pipelinedGarbageGetsErrorsOrAClose() throws IOException {
        java.util.Random r = new java.util.Random(99);
        StringBuilder garbage = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            int n = 1 + r.nextInt(60);
            for (int j = 0; j < n; j++) {
                garbage.append((char) (33 + r.nextInt(94)));
            }
            garbage.append("\r\n");
        }
        byte[] bytes = garbage.toString().getBytes(StandardCharsets.US_ASCII);
        int[] ports = {proxy.imapPort(), proxy.pop3Port(), proxy.smtpPort()};
        String[] ok = {"^\\S+ (BAD|NO)|^\\* (BAD|BYE)", "^-ERR", "^(5\\d\\d|421)[ -]"};
        for (int p = 0; p < ports.length; p++) {
            try (Wire w = Wire.proxy(ports[p])) {
                w.line(); // greeting
                try {
                    w.raw(bytes);
                } catch (IOException e) {
                    // closed while we were sending: allowed
                }
                w.socket.setSoTimeout(3000); // read the replies until the proxy closes or goes quiet
                String all = new String(w.drain(1 << 20), StandardCharsets.UTF_8);
                java.util.regex.Pattern good = java.util.regex.Pattern.compile(ok[p]);
                for (String line : all.split("\r\n")) {
                    if (!line.isEmpty() && !line.startsWith("<<")) {
                        assertThat(good.matcher(line).find()).as("port %d answered %s", ports[p], line).isTrue();
                    }
                }
            }
        }
        try (Wire w = imapLogin()) { // and the proxy still serves
            w.send("b NOOP");
            assertThat(w.until("b ")).contains("b OK");
        }
    }

    private static byte[] concat(String a, byte[] b, String c) {
        byte[] x = a.getBytes(StandardCharsets.US_ASCII);
        byte[] z = c.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[x.length + b.length + z.length];
        System.arraycopy(x, 0, out, 0, x.length);
        System.arraycopy(b, 0, out, x.length, b.length);
        System.arraycopy(z, 0, out, x.length + b.length, z.length);
        return out;
    }

    /** Sends a (long) line, tolerating the proxy closing mid-way; returns what it answered. */
    private static String sendTolerant(Wire w, String line) throws IOException {
        CompletableFuture<byte[]> answer = CompletableFuture.supplyAsync(() -> {
            try {
                return w.drainLine();
            } catch (IOException e) {
                return ("<<" + e + ">>").getBytes(StandardCharsets.US_ASCII);
            }
        });
        try {
            w.raw(line.getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            // closed while we were sending: what it said before is the point
        }
        try {
            return new String(answer.get(30, TimeUnit.SECONDS), StandardCharsets.UTF_8);
        } catch (Exception e) {
            return "<<read timed out>>";
        }
    }

    private Wire imapLogin() throws IOException {
        Wire w = Wire.proxy(proxy.imapPort());
        assertThat(w.line()).startsWith("* OK");
        w.send("a LOGIN " + CLIENT + " " + Proxy.secret(CLIENT));
        assertThat(w.until("a ")).contains("a OK");
        return w;
    }

    private Wire smtpLogin() throws IOException {
        Wire w = Wire.proxy(proxy.smtpPort());
        assertThat(w.line()).startsWith("220");
        w.send("EHLO client.test");
        assertThat(w.smtpReply()).startsWith("250 ");
        w.send("AUTH PLAIN " + Wire.plain(CLIENT, Proxy.secret(CLIENT)));
        assertThat(w.smtpReply()).startsWith("235");
        return w;
    }
}
