package io.mailproxy.smtp;

import io.mailproxy.smtp.queue.AttemptResult;
import io.mailproxy.smtp.queue.DeliveryWorker;
import io.mailproxy.smtp.queue.QueueSettings;
import io.mailproxy.smtp.queue.Spool;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Store-and-forward figures for docs/BENCHMARKS.md (a main program, not a test):
 * <ol>
 * <li>accept rate: 10 concurrent clients, each message of 10 KiB on a new loopback connection (as legacy devices do),
 * answered 250 only after the real fsyncs; the same with fsync off, to show what durability costs;</li>
 * <li>the heap that 10,000 queued messages hold in the delivery worker.</li>
 * </ol>
 * Run: {@code bench/run.sh queue --runs 5} (no upstream: the spool and the SMTP frontend run in this process). It
 * lives in the frontend's package: it builds the frontend around a spool of its own, with the frontend's test
 * fixtures ({@code Fixture}, {@code SmtpTestClient} from the smtp-frontend test jar, with core-testkit's fakes).
 */
public final class QueueBench {

    private static final int CLIENTS = 10;
    private static final int PER_CLIENT = 100;
    private static final String MESSAGE = "From: scanner@printer.local\r\nTo: boss@contoso.com\r\nSubject: scan\r\n\r\n"
            + ("0123456789abcdef".repeat(63) + "\r\n").repeat(10); // 10,290 octets

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        boolean heapOnly = args.length > 1 && args[1].equals("heap");
        for (boolean fsync : heapOnly ? new boolean[0] : new boolean[] {true, false}) {
            List<Double> rates = new ArrayList<>();
            accept(fsync); // warm-up
            for (int i = 0; i < runs; i++) {
                rates.add(accept(fsync));
            }
            report("accept rate, 10 KiB messages/s, fsync " + (fsync ? "on (2 ms group window)" : "off"), rates);
        }
        Path spoolDir = fill(10_000);
        try {
            List<Double> heap = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                heap.add(heldBytes(spoolDir, 10_000) / 1024.0 / 1024.0);
            }
            report("heap held by 10,000 queued messages, MiB", heap);
        } finally {
            try (var files = Files.walk(spoolDir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void report(String what, List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        double median = sorted.get(sorted.size() / 2);
        System.out.printf("%s: median %.1f (min %.1f, max %.1f, %d runs) %s%n", what, median, sorted.get(0),
                sorted.get(sorted.size() - 1), values.size(), values);
    }

    private static double accept(boolean fsync) throws Exception {
        Path dir = Files.createTempDirectory("queue-bench");
        ExecutorService blocking = Executors.newCachedThreadPool();
        Spool.Durability durability = fsync ? Spool.Durability.FSYNC : new Spool.Durability() {
            @Override
            public void force(java.nio.channels.FileChannel file) { }

            @Override
            public void forceDirectory(Path d) { }
        };
        try (Fixture fx = new Fixture(Fixture.listener(Optional.empty()), Fixture.settings(35 * 1024 * 1024, 4096), -1,
                null, (f, services) -> {
                    try {
                        return new SmtpFrontend(services, f.settings, Spool.open(dir.resolve("spool"), 1L << 34,
                                durability, blocking, Clock.systemUTC(), Duration.ofMillis(2)), null);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                })) {
            ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
            long start = System.nanoTime();
            List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < CLIENTS; c++) {
                done.add(clients.submit(() -> {
                    for (int m = 0; m < PER_CLIENT; m++) {
                        try (SmtpTestClient client = fx.client().login("queuer")) {
                            SmtpTestClient.expect(client.command("MAIL FROM:<scanner@printer.local>"), "250");
                            SmtpTestClient.expect(client.command("RCPT TO:<boss@contoso.com>"), "250");
                            SmtpTestClient.expect(client.command("DATA"), "354");
                            client.send(MESSAGE + ".\r\n");
                            SmtpTestClient.expect(client.reply(), "250 2.0.0 Queued as");
                            client.send("QUIT\r\n");
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            clients.shutdown();
            return CLIENTS * PER_CLIENT / seconds;
        } finally {
            blocking.shutdownNow();
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** A spool holding {@code count} messages of 10 KiB with 2 recipients each (written without fsync). */
    private static Path fill(int count) throws Exception {
        Path dir = Files.createTempDirectory("queue-bench-heap");
        Spool filler = Spool.open(dir, 1L << 34, new Spool.Durability() {
            @Override
            public void force(java.nio.channels.FileChannel file) { }

            @Override
            public void forceDirectory(Path d) { }
        }, Runnable::run, Clock.systemUTC(), Duration.ZERO);
        for (int i = 0; i < count; i++) {
            Spool.Writer w = filler.newMessage();
            w.write(Unpooled.copiedBuffer(MESSAGE, StandardCharsets.ISO_8859_1));
            w.commit(Fixture.ACCOUNT_FROM, "scanner", "scanner@printer.local", "scanner@printer.local", List.of(),
                    List.of("boss@contoso.com", "archive@contoso.com")).get();
        }
        return dir;
    }

    /** Heap the worker holds once it has resumed the spool's messages (none deliverable: the attempt never ends). */
    private static long heldBytes(Path dir, int count) throws Exception {
        long before = usedHeap();
        Spool spool = Spool.open(dir, 1L << 34, Spool.Durability.FSYNC, Runnable::run, Clock.systemUTC(),
                Duration.ZERO);
        DeliveryWorker worker = new DeliveryWorker(spool, QueueSettings.defaults(),
                (env, rcpts) -> new CompletableFuture<AttemptResult>(), name -> Optional.of(Fixture.account()),
                Clock.systemUTC(), null, Runnable::run, new SimpleMeterRegistry(), new Random(), "bench", 4096);
        worker.start();
        long after = usedHeap();
        if (worker.status().depth() != count) {
            throw new IllegalStateException("expected " + count + " queued, got " + worker.status().depth());
        }
        worker.close();
        return after - before;
    }

    private static long usedHeap() throws InterruptedException {
        for (int i = 0; i < 3; i++) {
            System.gc();
            Thread.sleep(100);
        }
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }
}
