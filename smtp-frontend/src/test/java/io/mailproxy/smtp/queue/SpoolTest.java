package io.mailproxy.smtp.queue;

import io.mailproxy.testkit.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpoolTest {

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-25T12:00:00Z"));

    private List<String> files() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void recoveryRemovesWhatACrashLeftHalfWrittenAndResumesCommittedMessages() throws Exception {
        Spool spool = QueueTestSupport.open(dir, clock);
        Envelope kept = QueueTestSupport.accept(spool, "a@x.com", List.of("b@x.com", "c@x.com"), "Subject: s\r\n\r\n.. x\r\n");
        DeliveryState state = new DeliveryState(2, clock.instant().plusSeconds(60), "451 4.4.1 later",
                Set.of("b@x.com"), Map.of(), false);
        spool.writeState(kept.id(), state);
        // a crash during receiving: message bytes without an envelope, and temporary files
        Files.writeString(dir.resolve("MWW0-0123456789.msg"), "half a message");
        Files.writeString(dir.resolve("MWW1-0123456789.msg"), "whole message");
        Files.writeString(dir.resolve("MWW1-0123456789.env.tmp"), "mailproxy-envelope 1\nid MWW1");
        Files.writeString(dir.resolve(kept.id() + ".state.tmp"), "mailproxy-state 1\n");

        Spool reopened = QueueTestSupport.open(dir, clock);
        assertThat(files()).containsExactly(kept.id() + ".env", kept.id() + ".msg", kept.id() + ".state");
        assertThat(reopened.recovered()).singleElement().satisfies(s -> {
            assertThat(s.envelope()).isEqualTo(kept);
            assertThat(s.state()).isEqualTo(state);
        });
        assertThat(reopened.usedBytes()).isEqualTo(Files.size(dir.resolve(kept.id() + ".msg"))
                + Files.size(dir.resolve(kept.id() + ".env")));
    }

    @Test
    void administrationWithoutTheDaemonLeavesFilesInProgressAlone() throws Exception {
        Spool spool = QueueTestSupport.open(dir, clock);
        Envelope kept = QueueTestSupport.accept(spool, "a@x.com", List.of("b@x.com"), "x\r\n");
        Files.writeString(dir.resolve("MWW0-0123456789.msg"), "being received");
        Files.writeString(dir.resolve("MWW1-0123456789.env.tmp"), "being committed");
        SmtpQueue offline = SmtpQueue.offline(dir.getParent().resolve("state-of-" + dir.getFileName()), clock);
        assertThat(offline.list()).isEmpty(); // no spool directory there: an empty queue, nothing created

        Spool admin = Spool.openForAdministration(dir, clock);
        assertThat(admin.recovered()).extracting(s -> s.envelope().id()).containsExactly(kept.id());
        assertThat(files()).contains("MWW0-0123456789.msg", "MWW1-0123456789.env.tmp");
    }

    @Test
    void retireRemovesEverythingAndFreesTheSpace() throws Exception {
        Spool spool = QueueTestSupport.open(dir, clock);
        Envelope e = QueueTestSupport.accept(spool, "a@x.com", List.of("b@x.com"), "x\r\n");
        spool.writeState(e.id(), DeliveryState.initial(clock.instant()));
        spool.retire(e.id());
        assertThat(files()).isEmpty();
        assertThat(spool.usedBytes()).isZero();
    }

    @Test
    void abortedMessageLeavesNothing() throws Exception {
        Spool spool = QueueTestSupport.open(dir, clock);
        Spool.Writer w = spool.newMessage();
        w.write(Unpooled.copiedBuffer("Subject: x\r\n", StandardCharsets.US_ASCII)).get();
        assertThat(files()).containsExactly(w.id() + ".msg");
        w.abort();
        assertThat(files()).isEmpty();
        assertThat(spool.usedBytes()).isZero();
    }

    @Test
    void messagesEndingTogetherShareOneDirectoryFsync() throws Exception {
        AtomicInteger dirSyncs = new AtomicInteger();
        AtomicInteger fileSyncs = new AtomicInteger();
        Spool.Durability counting = new Spool.Durability() {
            @Override
            public void force(FileChannel file) throws IOException {
                fileSyncs.incrementAndGet();
                file.force(true);
            }

            @Override
            public void forceDirectory(Path d) throws IOException {
                dirSyncs.incrementAndGet();
                FSYNC.forceDirectory(d);
            }
        };
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            Spool spool = Spool.open(dir, 1L << 30, counting, pool, clock, Duration.ofMillis(50));
            List<CompletableFuture<Envelope>> commits = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Spool.Writer w = spool.newMessage();
                w.write(Unpooled.copiedBuffer("Subject: " + i + "\r\n\r\nbody\r\n", StandardCharsets.US_ASCII));
                commits.add(w.commit(QueueTestSupport.ACCOUNT, "app", "a@x.com", "a@x.com", List.of(), List.of("b@x.com")));
            }
            CompletableFuture.allOf(commits.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
            assertThat(fileSyncs.get()).isEqualTo(16); // each message and each envelope
            assertThat(dirSyncs.get()).isBetween(1, 4);  // shared: far fewer than one per message
            assertThat(files()).hasSize(16);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void idsAreUniqueAndSafeAsFileNames() throws Exception {
        Spool spool = QueueTestSupport.open(dir, clock);
        Set<String> ids = new java.util.HashSet<>();
        for (int i = 0; i < 1000; i++) {
            String id = spool.newId();
            assertThat(Spool.validId(id)).as(id).isTrue();
            ids.add(id);
        }
        assertThat(ids).hasSize(1000);
        assertThat(Spool.validId("../../etc/passwd")).isFalse();
    }

    @Test
    void envelopeAndStateRoundTrip() throws Exception {
        Envelope e = new Envelope("MWW-0123456789", "acc", "cl", "", "\"odd local\"@x.com", List.of("SMTPUTF8"),
                List.of("r1@x.com", "r\u00e9@x.com"), clock.instant(), 42);
        assertThat(Envelope.decode(e.encode())).isEqualTo(e);
        DeliveryState s = new DeliveryState(3, clock.instant(), "550 5.1.1 no\r\nsuch", Set.of("r1@x.com"),
                Map.of("\"a b\"@x.com", "550 5.1.1 User unknown"), true);
        DeliveryState back = DeliveryState.decode(s.encode());
        assertThat(back).isEqualTo(s);
        assertThat(back.lastReply()).isEqualTo("550 5.1.1 no such");
    }

    private static ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> captureSpoolLog() {
        ch.qos.logback.classic.Logger logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(Spool.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> appender =
                new ch.qos.logback.core.read.ListAppender<>();
        appender.start();
        logger.addAppender(appender);
        return appender;
    }

    private static void detach(ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> a) {
        ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(Spool.class)).detachAppender(a);
    }

    /**
     * An envelope whose id is not its file's (tampered with, or corrupt) would make the worker build paths from it:
     * {@code ../victim} reaches out of the spool. It is skipped, with a warning naming the file, and nothing of it
     * (nor the files it points at) is touched, delivered or removed.
     */
    @Test
    void envelopeNamingAnotherIdIsSkippedWithAWarningNamingItsFile() throws Exception {
        Path spoolDir = dir.resolve("spool");
        Spool spool = QueueTestSupport.open(spoolDir, clock);
        Envelope good = QueueTestSupport.accept(spool, "a@x.com", List.of("b@x.com"), "Subject: good\r\n\r\nx\r\n");
        Envelope bad = QueueTestSupport.accept(spool, "a@x.com", List.of("b@x.com"), "Subject: bad\r\n\r\nx\r\n");
        Envelope other = QueueTestSupport.accept(spool, "a@x.com", List.of("b@x.com"), "Subject: other\r\n\r\nx\r\n");
        Path badEnv = spoolDir.resolve(bad.id() + ".env");
        Files.writeString(badEnv, Files.readString(badEnv).replace("id " + bad.id(), "id ../victim"));
        Path otherEnv = spoolDir.resolve(other.id() + ".env");
        Files.writeString(otherEnv, Files.readString(otherEnv).replace("id " + other.id(), "id " + good.id()));
        Files.writeString(dir.resolve("victim.env"), "not the spool's");
        Files.writeString(dir.resolve("victim.msg"), "not the spool's");

        var log = captureSpoolLog();
        Spool reopened;
        try {
            reopened = QueueTestSupport.open(spoolDir, clock);
        } finally {
            detach(log);
        }
        assertThat(reopened.recovered()).extracting(st -> st.envelope().id()).containsExactly(good.id());
        assertThat(log.list).filteredOn(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN)
                .extracting(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
                .anySatisfy(m -> assertThat(m).contains(badEnv.toString()).contains("../victim"))
                .anySatisfy(m -> assertThat(m).contains(otherEnv.toString()));
        assertThat(Files.readString(dir.resolve("victim.env"))).isEqualTo("not the spool's");
        assertThat(Files.readString(dir.resolve("victim.msg"))).isEqualTo("not the spool's");
        // left for a human, not removed as a half-written message either
        assertThat(badEnv).exists();
        assertThat(spoolDir.resolve(bad.id() + ".msg")).exists();
        assertThat(otherEnv).exists();
    }

    /** Files whose names this spool never gives are left alone with a warning, never taken as messages. */
    @Test
    void filesWithForeignNamesAreLeftAloneWithAWarning() throws Exception {
        Spool spool = QueueTestSupport.open(dir, clock);
        Envelope good = QueueTestSupport.accept(spool, "a@x.com", List.of("b@x.com"), "Subject: s\r\n\r\nx\r\n");
        Files.writeString(dir.resolve("evil.msg"), "x");
        Files.writeString(dir.resolve("evil.env"), Files.readString(dir.resolve(good.id() + ".env")));
        Files.writeString(dir.resolve("notes.txt.tmp"), "x");
        Files.writeString(dir.resolve("README"), "x");

        var log = captureSpoolLog();
        Spool reopened;
        try {
            reopened = QueueTestSupport.open(dir, clock);
        } finally {
            detach(log);
        }
        assertThat(reopened.recovered()).extracting(st -> st.envelope().id()).containsExactly(good.id());
        assertThat(files()).contains("evil.msg", "evil.env", "notes.txt.tmp", "README");
        assertThat(log.list).extracting(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage)
                .anySatisfy(m -> assertThat(m).contains(dir.resolve("evil.msg").toString()))
                .anySatisfy(m -> assertThat(m).contains(dir.resolve("notes.txt.tmp").toString()));
    }

    /** A bounce's envelope already on disk is reused only if it is the bounce's own. */
    @Test
    void storeRefusesAnExistingEnvelopeOfAnotherId() throws Exception {
        Spool spool = QueueTestSupport.open(dir, clock);
        Envelope original = QueueTestSupport.accept(spool, "a@x.com", List.of("b@x.com"), "Subject: s\r\n\r\nx\r\n");
        String bounceId = original.id() + "-DSN";
        Files.writeString(dir.resolve(bounceId + ".env"), Files.readString(dir.resolve(original.id() + ".env"))
                .replace("id " + original.id(), "id ../victim"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> spool.store(bounceId, "acct", "a@x.com",
                        List.of("b@x.com"), "x\r\n".getBytes(StandardCharsets.US_ASCII)))
                .isInstanceOf(IOException.class).hasMessageContaining(bounceId + ".env");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> spool.writeState("../victim",
                DeliveryState.initial(clock.instant()))).isInstanceOf(IllegalArgumentException.class);
    }
}
