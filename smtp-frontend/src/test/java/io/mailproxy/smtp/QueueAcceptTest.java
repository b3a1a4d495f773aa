package io.mailproxy.smtp;

import static io.mailproxy.smtp.SmtpTestClient.expect;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.mailproxy.smtp.queue.DeliveryWorker;
import io.mailproxy.smtp.queue.QueueSettings;
import io.mailproxy.smtp.queue.Spool;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Store-and-forward through real loopback sockets: the accept path into the spool, and delivery from it. */
class QueueAcceptTest {

    private static final String BODY = "From: App <app@legacy.example>\r\nTo: boss@contoso.com\r\nSubject: report\r\n\r\n"
            + "line one\r\n..a stuffed line\r\n.\u00e9 8-bit\r\n\r\n" + "x".repeat(998) + "\r\nlast line\r\n";

    @TempDir
    Path stateDir;

    private Fixture fx;
    private Spool spool;
    private DeliveryWorker worker;
    private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();
    private final HeldFsync fsync = new HeldFsync();

    /** fsync that a test can hold back, and that counts its calls. */
    static final class HeldFsync implements Spool.Durability {
        volatile CountDownLatch release = new CountDownLatch(0);
        final CountDownLatch enteredDirectory = new CountDownLatch(1);
        final AtomicInteger files = new AtomicInteger();
        final AtomicInteger directories = new AtomicInteger();

        @Override
        public void force(FileChannel file) throws IOException {
            files.incrementAndGet();
            file.force(true);
        }

        @Override
        public void forceDirectory(Path dir) throws IOException {
            enteredDirectory.countDown();
            try {
                if (!release.await(10, TimeUnit.SECONDS)) {
                    throw new IOException("test never released the fsync");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            directories.incrementAndGet();
            Spool.Durability.FSYNC.forceDirectory(dir);
        }
    }

    private void start(long spoolMax, boolean deliver, QueueSettings queue) throws Exception {
        fx = new Fixture(Fixture.listener(Optional.empty()), Fixture.settings(35 * 1024 * 1024, 4096), -1, null,
                (f, services) -> {
                    try {
                        spool = Spool.open(stateDir.resolve("spool"), spoolMax, fsync, f.executor, Clock.systemUTC(),
                                Duration.ZERO);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    if (!deliver) {
                        return new SmtpFrontend(services, f.settings, spool, null);
                    }
                    worker = new DeliveryWorker(spool, queue,
                            DeliveryWorker.overPool(f.pools, name -> Optional.of(Fixture.account()), spool, f.executor,
                                    Duration.ofSeconds(10)),
                            name -> Optional.of(Fixture.account()), Clock.systemUTC(), scheduler, f.executor,
                            new SimpleMeterRegistry(), new Random(3), "mx.test", 4096);
                    worker.start();
                    return new SmtpFrontend(services, f.settings, spool, worker);
                });
    }

    @AfterEach
    void stop() throws Exception {
        fsync.release.countDown();
        if (fx != null) {
            fx.close();
        }
        scheduler.shutdownNow();
    }

    private List<Path> spoolFiles() throws IOException {
        try (Stream<Path> s = Files.list(stateDir.resolve("spool"))) {
            return s.sorted().toList();
        }
    }

    @Test
    void answers250OnlyAfterTheMessageAndEnvelopeAreFsynced() throws Exception {
        start(1L << 30, false, QueueSettings.defaults());
        fsync.release = new CountDownLatch(1);
        try (SmtpTestClient c = fx.client().login("queuer")) {
            expect(c.command("MAIL FROM:<app@legacy.example> BODY=8BITMIME"), "250 2.1.0");
            expect(c.command("RCPT TO:<boss@contoso.com>"), "250 2.1.5");
            expect(c.command("RCPT TO:<second@contoso.com>"), "250 2.1.5");
            expect(c.command("DATA"), "354 ");
            c.send(BODY + ".\r\n");
            assertThat(fsync.enteredDirectory.await(10, TimeUnit.SECONDS)).isTrue();
            // the directory fsync is held: no reply may reach the client
            await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2))
                    .until(() -> c.socket.getInputStream().available() == 0);
            assertThat(fsync.files.get()).isGreaterThanOrEqualTo(2); // the message and its envelope
            fsync.release.countDown();
            String reply = c.reply();
            assertThat(reply).matches("250 2\\.0\\.0 Queued as [0-9A-Z]+-[0-9A-F]{10}\r\n");
            String id = reply.substring("250 2.0.0 Queued as ".length()).trim();
            assertThat(fsync.directories.get()).isEqualTo(1);

            Path dir = stateDir.resolve("spool");
            assertThat(spoolFiles()).extracting(p -> p.getFileName().toString())
                    .containsExactly(id + ".env", id + ".msg");
            // stored exactly as the client sent it, still dot-stuffed
            assertThat(Files.readString(dir.resolve(id + ".msg"), StandardCharsets.ISO_8859_1)).isEqualTo(BODY);
            assertThat(Files.readString(dir.resolve(id + ".env"))).contains("from app@legacy.example\n")
                    .contains("param BODY=8BITMIME\n").contains("rcpt boss@contoso.com\nrcpt second@contoso.com\n")
                    .contains("size " + BODY.length() + "\n").contains("client queuer\n");
            assertThat(Files.getPosixFilePermissions(dir.resolve(id + ".msg")))
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
            assertThat(Files.getPosixFilePermissions(dir.resolve(id + ".env")))
                    .isEqualTo(PosixFilePermissions.fromString("rw-------"));
            assertThat(Files.getPosixFilePermissions(dir)).isEqualTo(PosixFilePermissions.fromString("rwx------"));
            assertThat(c.command("QUIT")).startsWith("221");
        }
        assertThat(fx.pools.acquired.get()).isZero(); // nothing went upstream during the session
    }

    @Test
    void clientGoneMidDataLeavesNothingInTheSpool() throws Exception {
        start(1L << 30, false, QueueSettings.defaults());
        try (SmtpTestClient c = fx.client().login("queuer")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250 ");
            expect(c.command("RCPT TO:<boss@contoso.com>"), "250 ");
            expect(c.command("DATA"), "354 ");
            c.send(BODY + "y".repeat(100_000) + "\r\n");
            await().atMost(Duration.ofSeconds(5)).until(() -> !spoolFiles().isEmpty());
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> spoolFiles().isEmpty());
        assertThat(spool.usedBytes()).isZero();
    }

    @Test
    void spoolFullRefusesAtDataEndAndAtMail() throws Exception {
        start(600, false, QueueSettings.defaults());
        try (SmtpTestClient c = fx.client().login("queuer")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250 ");
            expect(c.command("RCPT TO:<boss@contoso.com>"), "250 ");
            expect(c.command("DATA"), "354 ");
            c.send("Subject: big\r\n\r\n" + "z".repeat(700) + "\r\n.\r\n");
            assertThat(c.reply()).isEqualTo("452 4.3.1 Insufficient system storage\r\n");
            assertThat(spoolFiles()).isEmpty();

            expect(c.command("MAIL FROM:<app@legacy.example>"), "250 ");
            expect(c.command("RCPT TO:<boss@contoso.com>"), "250 ");
            expect(c.command("DATA"), "354 ");
            c.send("Subject: small\r\n\r\n" + "z".repeat(200) + "\r\n.\r\n");
            expect(c.reply(), "250 2.0.0 Queued as ");
            // the message and its envelope now hold more than 600 octets... or the declared SIZE would not fit
            assertThat(c.command("MAIL FROM:<app@legacy.example> SIZE=400"))
                    .isEqualTo("452 4.3.1 Insufficient system storage\r\n");
        }
    }

    @Test
    void queuedMessageIsDeliveredByteForByteAndARefusedRecipientIsBouncedToTheAdmin() throws Exception {
        QueueSettings d = QueueSettings.defaults();
        start(1L << 30, true, new QueueSettings(d.maxSize(), d.fsyncWindow(), 30, 10_000, 1, d.initialBackoff(),
                d.maxBackoff(), d.backoffJitter(), d.maxAge(), d.quotaDeferral(), d.throttlePause(),
                Optional.of("postmaster@contoso.com"), false, d.idlePoll()));
        String id;
        try (SmtpTestClient c = fx.client().login("queuer")) {
            expect(c.command("MAIL FROM:<app@legacy.example> BODY=8BITMIME"), "250 ");
            expect(c.command("RCPT TO:<boss@contoso.com>"), "250 ");
            expect(c.command("RCPT TO:<reject@contoso.com>"), "250 "); // accepted locally; refused upstream later
            expect(c.command("DATA"), "354 ");
            c.send(BODY + ".\r\n");
            id = expect(c.reply(), "250 2.0.0 Queued as ").substring(20).trim();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> fx.upstream.messages.size() == 2 && spoolFiles().isEmpty());
        assertThat(fx.upstream.messages.get(0)).isEqualTo(BODY);
        String all = fx.upstream.allReceived();
        assertThat(all).contains("MAIL FROM:<app@legacy.example> SIZE=" + BODY.length() + " BODY=8BITMIME\r\n"
                + "RCPT TO:<boss@contoso.com>\r\nRCPT TO:<reject@contoso.com>\r\nDATA\r\n");
        // the bounce: from the account itself (Office 365 submission), to the administrator, through its pool
        assertThat(all).contains("MAIL FROM:<" + Fixture.ACCOUNT_FROM + "> SIZE=").contains("RCPT TO:<postmaster@contoso.com>\r\nDATA\r\n");
        String bounce = fx.upstream.messages.get(1);
        assertThat(bounce).contains("Auto-Submitted: auto-replied\r\n")
                .contains("report-type=delivery-status")
                .contains("Final-Recipient: rfc822; reject@contoso.com\r\n")
                .contains("Status: 5.1.10\r\n")
                .contains("X-Mailproxy-Queue-ID: " + id)
                .contains("Subject: report\r\n")
                .doesNotContain("Final-Recipient: rfc822; boss@contoso.com");
        assertThat(worker.status().depth()).isZero();
    }

    @Test
    void senderRewritingAppliesToQueuedMessages() throws Exception {
        start(1L << 30, true, QueueSettings.defaults());
        try (SmtpTestClient c = fx.client().login("queue-rewriter")) {
            expect(c.command("MAIL FROM:<app@legacy.example>"), "250 ");
            expect(c.command("RCPT TO:<boss@contoso.com>"), "250 ");
            expect(c.command("DATA"), "354 ");
            c.send(BODY + ".\r\n");
            expect(c.reply(), "250 2.0.0 Queued as ");
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> fx.upstream.messages.size() == 1);
        assertThat(fx.upstream.allReceived()).contains("MAIL FROM:<" + Fixture.ACCOUNT_FROM + "> SIZE=");
        assertThat(fx.upstream.messages.get(0)).contains("From: App <" + Fixture.ACCOUNT_FROM + ">\r\n")
                .contains("Reply-To: App <app@legacy.example>\r\n").endsWith("..a stuffed line\r\n.\u00e9 8-bit\r\n\r\n"
                        + "x".repeat(998) + "\r\nlast line\r\n");
    }
}
