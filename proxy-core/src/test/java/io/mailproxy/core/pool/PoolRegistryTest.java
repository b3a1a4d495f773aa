package io.mailproxy.core.pool;

import static io.mailproxy.core.pool.PoolFixture.ACCOUNT;
import static io.mailproxy.core.pool.PoolFixture.START;
import static io.mailproxy.core.pool.PoolFixture.converse;
import static io.mailproxy.core.pool.PoolFixture.pool;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.PoolConfig;
import io.mailproxy.core.config.UpstreamConfig;
import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.mailproxy.core.upstream.UpstreamException;
import io.micrometer.core.instrument.search.RequiredSearch;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PoolRegistryTest {

    private static final Set<String> IMAP_CAPS = Set.of("IMAP4REV1", "IDLE", "UNSELECT", "MOVE", "UIDPLUS",
            "LITERAL+");
    private static final Set<String> IMAP_CAPS_NO_UNSELECT = Set.of("IMAP4REV1", "IDLE", "UIDPLUS");
    private static final Set<String> SMTP_CAPS = Set.of("SIZE 157286400", "PIPELINING", "AUTH LOGIN XOAUTH2");

    private static EventLoopGroup group;
    private final List<PoolFixture> fixtures = new ArrayList<>();

    @BeforeAll
    static void startLoops() {
        Awaitility.setDefaultPollDelay(Duration.ZERO);
        Awaitility.setDefaultPollInterval(Duration.ofMillis(10));
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    }

    @AfterAll
    static void stopLoops() throws InterruptedException {
        Awaitility.reset();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    @AfterEach
    void closeFixtures() throws Exception {
        for (PoolFixture f : fixtures) {
            f.close();
        }
        for (PoolFixture f : fixtures) {
            assertThat(f.scheduler.errors()).isEmpty();
        }
    }

    private PoolFixture imap(Set<String> caps, PoolConfig pool) throws InterruptedException {
        PoolFixture f = new PoolFixture(group, Protocol.IMAP, caps, pool);
        fixtures.add(f);
        return f;
    }

    private PoolFixture smtp(PoolConfig pool) throws InterruptedException {
        PoolFixture f = new PoolFixture(group, Protocol.SMTP, SMTP_CAPS, pool);
        fixtures.add(f);
        return f;
    }

    private static PoolConfig with(PoolConfig p, Duration idleTimeout, Duration keepAlive) {
        return new PoolConfig(p.max(), p.minIdle(), p.acquireTimeout(), p.minTokenLife(), p.idleProbeAfter(),
                idleTimeout, keepAlive);
    }

    private static UpstreamException failure(CompletableFuture<?> f) {
        assertThat(f).isCompletedExceptionally();
        try {
            f.getNow(null);
            throw new AssertionError("not failed");
        } catch (java.util.concurrent.CompletionException e) {
            assertThat(e.getCause()).isInstanceOf(UpstreamException.class);
            return (UpstreamException) e.getCause();
        }
    }

    private static boolean isTaggedLine(String line) {
        return !line.startsWith("* ");
    }

    // ------------------------------------------------------------------ lease and reset

    @Test
    void aLeaseGivenBackUnusedIsIdleAgainWithoutAResetRoundTrip() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease lease = f.lease();
        Channel ch = lease.session().channel();
        int id = f.serverId(lease);
        int before = f.upstream.linesOf(id).size();
        lease.releaseUnused();
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        assertThat(f.upstream.linesOf(id)).hasSize(before); // no UNSELECT, no SELECT, nothing
        Lease again = f.lease();
        assertThat(again.session().channel()).isSameAs(ch);
        assertThat(converse(again, "a2 NOOP", PoolRegistryTest::isTaggedLine)).containsExactly("a2 OK NOOP completed.");
        again.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        // a release after use is reset as before (here: UNSELECT answered BAD, confirmed by a failing SELECT)
        assertThat(f.upstream.linesOf(id).subList(before, f.upstream.linesOf(id).size()))
                .anyMatch(l -> l.matches("mpx\\d+ UNSELECT"));
    }

    @Test
    void leaseHandsOverTheBareChannelAndResetsItWithUnselect() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease lease = f.lease();
        Channel ch = lease.session().channel();
        assertThat(ch.pipeline().toMap().keySet()).containsExactly("tls");
        assertThat(ch.config().isAutoRead()).isFalse();

        assertThat(converse(lease, "a1 SELECT INBOX", PoolRegistryTest::isTaggedLine))
                .endsWith("a1 OK [READ-WRITE] SELECT completed.");
        int id = f.serverId(lease);
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        assertThat(f.upstream.linesOf(id)).hasSize(2);
        assertThat(f.upstream.linesOf(id).get(1)).matches("mpx\\d+ UNSELECT");
        Lease again = f.lease();
        assertThat(again.session().channel()).isSameAs(ch);
        assertThat(ch.pipeline().toMap().keySet()).containsExactly("tls");
        assertThat(converse(again, "a2 NOOP", PoolRegistryTest::isTaggedLine)).containsExactly("a2 OK NOOP completed.");
        assertThat(f.connector.connects()).isEqualTo(1);
        assertThat(f.upstream.count("CLOSE")).isZero();
        again.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
    }

    @Test
    void withoutUnselectTheResetIsASelectOfAMailboxThatCannotExist() throws Exception {
        PoolFixture f = imap(IMAP_CAPS_NO_UNSELECT, pool(2, 0));
        Lease lease = f.lease();
        converse(lease, "a1 SELECT INBOX", PoolRegistryTest::isTaggedLine);
        int id = f.serverId(lease);
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        assertThat(f.upstream.linesOf(id)).hasSize(2);
        assertThat(f.upstream.linesOf(id).get(1))
                .matches("mpx\\d+ SELECT \"" + PoolCommands.MAILBOX_THAT_CANNOT_EXIST + "\"");
        assertThat(f.upstream.count("UNSELECT")).isZero();
        assertThat(f.upstream.count("CLOSE")).isZero();
        Lease again = f.lease();
        assertThat(f.serverId(again)).isEqualTo(id);
        again.release(false);
    }

    @Test
    void unselectRefusedBecauseNothingWasSelectedIsConfirmedWithAFailingSelect() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease lease = f.lease();
        int id = f.serverId(lease);
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        List<String> lines = f.upstream.linesOf(id);
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0)).matches("mpx\\d+ UNSELECT");
        assertThat(lines.get(1)).matches("mpx\\d+ SELECT \"" + PoolCommands.MAILBOX_THAT_CANNOT_EXIST + "\"");
        assertThat(f.upstream.isOpen(id)).isTrue();
    }

    @Test
    void untaggedResponsesAndLiteralsDuringTheResetAreTolerated() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease lease = f.lease();
        converse(lease, "a1 SELECT INBOX", PoolRegistryTest::isTaggedLine);
        f.upstream.untaggedBeforeReply = "* 4 EXISTS\r\n* 1 FETCH (BODY[HEADER] {12}\r\nSubject: x\r\n)\r\n";
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        f.upstream.untaggedBeforeReply = "";

        Lease again = f.lease();
        assertThat(again.session().channel()).isSameAs(lease.session().channel());
        assertThat(converse(again, "a2 NOOP", PoolRegistryTest::isTaggedLine)).containsExactly("a2 OK NOOP completed.");
        again.release(false);
    }

    @Test
    void smtpChannelsAreResetWithRset() throws Exception {
        PoolFixture f = smtp(pool(3, 0));
        Lease lease = f.lease();
        assertThat(converse(lease, "MAIL FROM:<reports@contoso.com>", l -> l.charAt(3) == ' '))
                .containsExactly("250 2.1.0 Sender OK");
        int id = f.serverId(lease);
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        assertThat(f.upstream.linesOf(id)).containsExactly("MAIL FROM:<reports@contoso.com>", "RSET");
        Lease again = f.lease();
        assertThat(f.serverId(again)).isEqualTo(id);
        assertThat(converse(again, "EHLO mailproxy", l -> l.charAt(3) == ' ')).endsWith("250 SMTPUTF8");
        again.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        assertThat(f.connector.connects()).isEqualTo(1);
    }

    @Test
    void aDirtyReleaseClosesTheChannelWithoutAReset() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease lease = f.lease();
        int id = f.serverId(lease);
        lease.release(true);
        lease.release(false); // idempotent: the second call changes nothing

        await().atMost(5, TimeUnit.SECONDS).until(() -> !f.upstream.isOpen(id));
        assertThat(f.upstream.linesOf(id)).isEmpty();
        assertThat(f.snapshot().idle()).isZero();
        assertThat(f.snapshot().active()).isZero();
        assertThat(f.meters.get("mailproxy.pool.closes").tag("reason", "dirty").counter().count()).isEqualTo(1);
        Lease next = f.lease();
        assertThat(f.serverId(next)).isNotEqualTo(id);
        next.release(false);
    }

    @Test
    void aRefusedResetClosesTheChannel() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease lease = f.lease();
        converse(lease, "a1 SELECT INBOX", PoolRegistryTest::isTaggedLine);
        int id = f.serverId(lease);
        f.upstream.failNext("UNSELECT", FakeUpstream.Fault.WRONG);
        lease.release(false);

        await().atMost(5, TimeUnit.SECONDS).until(() -> !f.upstream.isOpen(id));
        assertThat(f.idle()).isZero();
        assertThat(f.meters.get("mailproxy.pool.closes").tag("reason", "reset-failed").counter().count())
                .isEqualTo(1);
        Lease next = f.lease();
        assertThat(f.serverId(next)).isNotEqualTo(id);
        next.release(false);
    }

    @Test
    void aResetWithoutReplyTimesOutAndClosesTheChannel() throws Exception {
        PoolFixture f = smtp(pool(3, 0));
        Lease lease = f.lease();
        int id = f.serverId(lease);
        f.upstream.failNext("RSET", FakeUpstream.Fault.HANG);
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.upstream.count("RSET") == 1);
        assertThat(f.upstream.isOpen(id)).isTrue();

        f.scheduler.advance(Duration.ofSeconds(15));
        await().atMost(5, TimeUnit.SECONDS).until(() -> !f.upstream.isOpen(id));
        assertThat(f.idle()).isZero();
    }

    @Test
    void anSmtpResetAnsweredWithAnErrorClosesTheChannel() throws Exception {
        PoolFixture f = smtp(pool(3, 0));
        Lease lease = f.lease();
        int id = f.serverId(lease);
        f.upstream.failNext("RSET", FakeUpstream.Fault.WRONG);
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> !f.upstream.isOpen(id));
        assertThat(f.idle()).isZero();
    }

    @Test
    void aChannelStillCarryingSessionHandlersIsClosedNotReused() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease lease = f.lease();
        Channel ch = lease.session().channel();
        ch.eventLoop().submit(() -> ch.pipeline().addLast("relay", new io.netty.channel.ChannelDuplexHandler()))
                .sync();
        int id = f.serverId(lease);
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> !f.upstream.isOpen(id));
        assertThat(f.upstream.linesOf(id)).isEmpty();
    }

    // ------------------------------------------------------------------ bounds and waiting

    @Test
    void maxIsRespectedUnderConcurrentAcquires() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(3, 0));
        ExecutorService threads = Executors.newFixedThreadPool(12);
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<Lease>> acquires = new ArrayList<>();
        try {
            List<java.util.concurrent.Future<CompletableFuture<Lease>>> submitted = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                submitted.add(threads.submit(() -> {
                    go.await();
                    return f.acquire();
                }));
            }
            go.countDown();
            for (var s : submitted) {
                acquires.add(s.get(5, TimeUnit.SECONDS));
            }
        } finally {
            threads.shutdown();
        }
        await().atMost(5, TimeUnit.SECONDS).until(() -> acquires.stream().filter(CompletableFuture::isDone).count() == 3);
        assertThat(f.connector.connects()).isEqualTo(3);
        assertThat(f.snapshot().active()).isEqualTo(3);
        assertThat(f.snapshot().waiting()).isEqualTo(9);
        assertThat(f.snapshot().pending()).isZero();
        assertThat(acquires.stream().filter(CompletableFuture::isDone).map(CompletableFuture::join)
                .map(l -> l.session().channel()).distinct()).hasSize(3);

        Lease first = acquires.stream().filter(CompletableFuture::isDone).findFirst().orElseThrow().join();
        first.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> acquires.stream().filter(CompletableFuture::isDone).count() == 4);
        assertThat(f.connector.connects()).isEqualTo(3);
        assertThat(f.snapshot().waiting()).isEqualTo(8);
    }

    @Test
    void leasesAreExclusiveUnderConcurrentUse() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(3, 0));
        Set<Channel> inUse = java.util.concurrent.ConcurrentHashMap.newKeySet();
        java.util.concurrent.atomic.AtomicInteger overlaps = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger maxSeen = new java.util.concurrent.atomic.AtomicInteger();
        ExecutorService threads = Executors.newFixedThreadPool(6);
        List<java.util.concurrent.Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 6; t++) {
            int seed = t;
            done.add(threads.submit(() -> {
                java.util.Random random = new java.util.Random(seed);
                for (int i = 0; i < 25; i++) {
                    Lease lease = f.lease();
                    Channel ch = lease.session().channel();
                    if (!inUse.add(ch)) {
                        overlaps.incrementAndGet();
                    }
                    maxSeen.accumulateAndGet(inUse.size(), Math::max);
                    String tag = "t" + seed + "x" + i;
                    assertThat(converse(lease, tag + " NOOP", PoolRegistryTest::isTaggedLine))
                            .containsExactly(tag + " OK NOOP completed.");
                    inUse.remove(ch);
                    lease.release(random.nextInt(10) == 0);
                }
                return null;
            }));
        }
        threads.shutdown();
        for (var d : done) {
            d.get(15, TimeUnit.SECONDS);
        }
        assertThat(overlaps).hasValue(0);
        assertThat(maxSeen.get()).isLessThanOrEqualTo(3);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.snapshot().active() == 0);
        assertThat(f.snapshot().idle()).isBetween(1, 3);
        assertThat(f.upstream.received().stream().map(FakeUpstream.Received::connection).distinct()
                .filter(f.upstream::isOpen).count()).isLessThanOrEqualTo(3);
    }

    @Test
    void waitersAreServedInArrivalOrderAsChannelsComeBack() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(1, 0));
        Lease a = f.lease();
        CompletableFuture<Lease> b = f.acquire();
        CompletableFuture<Lease> c = f.acquire();
        assertThat(b).isNotDone();
        assertThat(c).isNotDone();

        a.release(false);
        Lease lb = b.get(5, TimeUnit.SECONDS);
        assertThat(lb.session().channel()).isSameAs(a.session().channel());
        assertThat(c).isNotDone();
        lb.release(false);
        Lease lc = c.get(5, TimeUnit.SECONDS);
        assertThat(lc.session().channel()).isSameAs(a.session().channel());
        assertThat(f.connector.connects()).isEqualTo(1);
        lc.release(false);
    }

    @Test
    void limitReachedAfterTheBoundedWait() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(1, 0));
        Lease a = f.lease();
        CompletableFuture<Lease> b = f.acquire();
        f.scheduler.advance(Duration.ofSeconds(9));
        assertThat(b).isNotDone();
        f.scheduler.advance(Duration.ofSeconds(1));

        UpstreamException e = failure(b);
        assertThat(e.kind()).isEqualTo(Kind.LIMIT_REACHED);
        assertThat(e.getMessage()).contains("all 1 imap connections of account " + ACCOUNT);
        assertThat(f.meters.get("mailproxy.pool.limit.hits").counter().count()).isEqualTo(1);
        assertThat(f.snapshot().waiting()).isZero();
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
    }

    @Test
    void aConnectionThatTakesLongerThanTheWaitIsATimeoutNotTheLimit() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        f.connector.gate = new CompletableFuture<>();
        CompletableFuture<Lease> a = f.acquire();
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.connector.connects() == 1);
        f.scheduler.advance(Duration.ofSeconds(10));
        assertThat(failure(a).kind()).isEqualTo(Kind.TIMED_OUT);
        assertThat(f.meters.get("mailproxy.pool.limit.hits").counter().count()).isZero();

        f.connector.gate.complete(null); // the late connection is kept for the next one
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        f.connector.gate = null;
        f.lease().release(false);
        assertThat(f.connector.connects()).isEqualTo(1);
    }

    @Test
    void aConnectorFailureReachesTheWaiterThatCausedIt() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        UpstreamException refused = new UpstreamException(Kind.CREDENTIALS_REJECTED, "XOAUTH2 login refused",
                "a1 NO AUTHENTICATE failed.", null);
        f.connector.failNext(refused);
        CompletableFuture<Lease> a = f.acquire();
        assertThatThrownBy(() -> a.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isSameAs(refused);
        assertThat(f.meters.get("mailproxy.pool.creation.failures").tag("kind", "credentials_rejected")
                .counter().count()).isEqualTo(1);
        assertThat(f.snapshot().pending()).isZero();
        f.lease().release(false); // the next acquire connects again
        assertThat(f.connector.connects()).isEqualTo(2);
    }

    @Test
    void pop3IsNeverPooled() {
        PoolFixture f;
        try {
            f = imap(IMAP_CAPS, pool(2, 0));
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        CompletableFuture<Lease> a = f.registry.acquire(f.account, Protocol.POP3);
        assertThatThrownBy(a::join).cause().isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("never pooled");
        assertThat(f.connector.connects()).isZero();
    }

    // ------------------------------------------------------------------ pre-warm, token life, probe, idle

    @Test
    void minIdleIsPreWarmedInTheBackgroundWithoutBlockingAcquire() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(3, 2));
        f.connector.gate = new CompletableFuture<>();
        f.scheduler.runDue();
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.connector.connects() == 2);
        assertThat(f.snapshot().pending()).isEqualTo(2);

        CompletableFuture<Lease> a = f.acquire(); // returns at once; served by a pre-warming connection
        assertThat(a).isNotDone();
        assertThat(f.connector.connects()).isEqualTo(2);
        f.connector.gate.complete(null);
        Lease lease = a.get(5, TimeUnit.SECONDS);
        // the lease took one of the two: min-idle is topped up again at once, in the background
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 2 && f.connector.connects() == 3);
        assertThat(f.snapshot().active()).isEqualTo(1);
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 3);
        assertThat(f.connector.connects()).isEqualTo(3);
    }

    @Test
    void anUpstreamThatOnlyHasMicrosoftGraphIsNeverPreWarmedOverImapOrSmtp() throws Exception {
        // an account on a Graph-only upstream (preset office365-graph) keeps the template's min-idle = 1, but there is
        // nothing to connect to: pre-warming would only fail and log a WARN at each retry
        UpstreamConfig graphOnly = new UpstreamConfig("office365", Optional.empty(), Map.of(),
                Optional.of(URI.create("https://graph.example.test/v1.0")), UpstreamConfig.Sending.GRAPH,
                Optional.empty(), Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofSeconds(5));
        for (PoolFixture f : List.of(imap(IMAP_CAPS, pool(3, 2)), smtp(pool(3, 2)))) {
            f.configure(pool(3, 2), "pw", Map.of("office365", graphOnly));
            f.scheduler.runDue();
            f.clock.advance(PoolRegistry.HOUSEKEEPING_PERIOD);
            f.scheduler.runDue();
            assertThat(f.connector.connects()).isZero();
            assertThat(f.snapshot()).isNull();
        }
    }

    @Test
    void aChannelWithLessThanMinTokenLifeLeftIsNeverLeased() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease a = f.lease();
        Channel first = a.session().channel();
        assertThat(a.session().tokenExpiresAt()).contains(START.plus(Duration.ofMinutes(60)));
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.clock.advance(Duration.ofMinutes(48)); // 12 minutes left: still leasable (after a probe)
        Lease b = f.lease();
        assertThat(b.session().channel()).isSameAs(first);
        b.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.clock.advance(Duration.ofMinutes(2).plusSeconds(1)); // 9:59 left, less than min-token-life
        long noops = f.upstream.count("NOOP");
        Lease c = f.lease();
        assertThat(c.session().channel()).isNotSameAs(first);
        assertThat(c.session().tokenExpiresAt()).contains(f.clock.instant().plus(Duration.ofMinutes(60)));
        assertThat(f.upstream.count("NOOP")).isEqualTo(noops); // retired, not even probed
        await().atMost(5, TimeUnit.SECONDS).until(() -> !first.isActive());
        assertThat(f.meters.get("mailproxy.pool.closes").tag("reason", "token-expiring").counter().count())
                .isEqualTo(1);
        c.release(false);
    }

    /** A reload that changes where or as whom the account logs in: no session gets an old connection again. */
    @Test
    void aReloadThatChangesTheAccountsCredentialsRetiresItsConnections() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(3, 0));
        Lease leased = f.lease();
        Lease idle = f.lease();
        Channel leasedCh = leased.session().channel();
        Channel idleCh = idle.session().channel();
        idle.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.configure(pool(3, 0), "rotated-pw");
        Lease fresh = f.lease();
        assertThat(fresh.session().channel()).isNotSameAs(idleCh).isNotSameAs(leasedCh);
        await().atMost(5, TimeUnit.SECONDS).until(() -> !idleCh.isActive());
        leased.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> !leasedCh.isActive());
        assertThat(f.meters.get("mailproxy.pool.closes").tag("reason", "config-changed").counter().count())
                .isEqualTo(2);

        // connections opened for the new settings are pooled as usual
        Channel freshCh = fresh.session().channel();
        fresh.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        Lease again = f.lease();
        assertThat(again.session().channel()).isSameAs(freshCh);
        again.release(false);
    }

    /** Pool settings alone changing keeps the connections. */
    @Test
    void aReloadThatChangesOnlyPoolSettingsKeepsTheConnections() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(3, 0));
        Lease a = f.lease();
        Channel ch = a.session().channel();
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        f.configure(pool(4, 0));
        Lease b = f.lease();
        assertThat(b.session().channel()).isSameAs(ch);
        b.release(false);
    }

    /** An identity provider issuing 5-minute tokens (less than min-token-life): leased until the last fifth. */
    @Test
    void tokensShorterLivedThanMinTokenLifeAreLeasedUntilTheirLastFifth() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        f.connector.tokenLife = Duration.ofMinutes(5);
        Lease a = f.lease();
        Channel first = a.session().channel();
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.clock.advance(Duration.ofMinutes(3)); // 2 minutes left: still leasable
        Lease b = f.lease();
        assertThat(b.session().channel()).isSameAs(first);
        b.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.clock.advance(Duration.ofSeconds(61)); // 59 s left, less than a fifth of 5 minutes
        Lease c = f.lease();
        assertThat(c.session().channel()).isNotSameAs(first);
        c.release(false);
    }

    @Test
    void passwordLoginsWithoutTokenExpiryAreLeasedAtAnyAge() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        f.connector.tokenLife = null;
        Lease a = f.lease();
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        f.clock.advance(Duration.ofDays(3));
        Lease b = f.lease();
        assertThat(b.session().channel()).isSameAs(a.session().channel());
        assertThat(f.snapshot().minTokenLifeLeft()).isEmpty();
        b.release(false);
    }

    @Test
    void idleChannelsAreRetiredBeforeTheirTokenExpiresAndReplaced() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, with(pool(2, 1), Duration.ofHours(2), Duration.ofHours(2)));
        f.scheduler.runDue();
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        Channel first = f.connector.opened().get(0);

        f.scheduler.advance(Duration.ofMinutes(48));
        assertThat(first.isActive()).isTrue();
        assertThat(f.connector.connects()).isEqualTo(1);

        f.scheduler.advance(Duration.ofMinutes(2)); // min-token-life (10 min) before the expiry at 60 min
        await().atMost(5, TimeUnit.SECONDS).until(() -> !first.isActive());
        assertThat(f.clock.instant()).isBefore(START.plus(Duration.ofMinutes(60)));
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1 && f.connector.connects() == 2);
        assertThat(f.snapshot().minTokenLifeLeft().orElseThrow())
                .isGreaterThan(Duration.ofMinutes(58)).isLessThanOrEqualTo(Duration.ofMinutes(60));
    }

    @Test
    void anIdleChannelIsProbedWithNoopOnlyAfterTheIdleWindow() throws Exception {
        PoolFixture f = imap(IMAP_CAPS_NO_UNSELECT, pool(2, 0));
        Lease a = f.lease();
        int id = f.serverId(a);
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.clock.advance(Duration.ofSeconds(30)); // exactly the window: no probe yet
        Lease b = f.lease();
        assertThat(f.upstream.count("NOOP")).isZero();
        b.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.clock.advance(Duration.ofSeconds(31));
        Lease c = f.lease();
        assertThat(f.serverId(c)).isEqualTo(id);
        List<String> lines = f.upstream.linesOf(id);
        assertThat(lines.get(lines.size() - 1)).matches("mpx\\d+ NOOP");
        assertThat(f.upstream.count("NOOP")).isEqualTo(1);
        assertThat(c.session().channel().pipeline().toMap().keySet()).containsExactly("tls");
        c.release(false);
    }

    @Test
    void aFailedProbeClosesTheChannelAndTheAcquireTakesAnother() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease a = f.lease();
        Lease b = f.lease();
        a.release(false);
        b.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 2);

        f.clock.advance(Duration.ofMinutes(1));
        f.upstream.failNext("NOOP", FakeUpstream.Fault.DROP);
        Lease c = f.lease();

        List<FakeUpstream.Received> noops = f.upstream.received().stream()
                .filter(r -> r.verb(Protocol.IMAP).equals("NOOP")).toList();
        assertThat(noops).hasSize(2);
        int dropped = noops.get(0).connection();
        assertThat(f.serverId(c)).isEqualTo(noops.get(1).connection()).isNotEqualTo(dropped);
        await().atMost(5, TimeUnit.SECONDS).until(() -> !f.upstream.isOpen(dropped));
        assertThat(f.connector.connects()).isEqualTo(2);
        assertThat(f.meters.get("mailproxy.pool.closes").tag("reason", "probe-failed").counter().count())
                .isEqualTo(1);
        c.release(false);
    }

    @Test
    void aByeDuringTheProbeMakesTheAcquireOpenANewConnection() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease a = f.lease();
        int id = f.serverId(a);
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.clock.advance(Duration.ofMinutes(1));
        f.upstream.failNext("NOOP", FakeUpstream.Fault.BYE);
        Lease b = f.lease();
        assertThat(f.serverId(b)).isNotEqualTo(id);
        assertThat(f.connector.connects()).isEqualTo(2);
        await().atMost(5, TimeUnit.SECONDS).until(() -> !a.session().channel().isActive());
        b.release(false);
    }

    @Test
    void idleChannelsGetAKeepAliveNoop() throws Exception {
        PoolFixture f = smtp(with(pool(3, 0), Duration.ofHours(1), Duration.ofMinutes(4)));
        Lease a = f.lease();
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.scheduler.advance(Duration.ofMinutes(3));
        assertThat(f.upstream.count("NOOP")).isZero();
        f.scheduler.advance(Duration.ofMinutes(1));
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.upstream.count("NOOP") == 1);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        f.scheduler.advance(Duration.ofMinutes(4));
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.upstream.count("NOOP") == 2);
        assertThat(f.connector.connects()).isEqualTo(1);
    }

    @Test
    void idleChannelsAboveMinIdleAreEvictedAfterTheIdleTimeout() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, with(pool(3, 1), Duration.ofMinutes(5), Duration.ofHours(2)));
        Lease a = f.lease();
        Lease b = f.lease();
        Lease c = f.lease();
        a.release(false);
        b.release(false);
        c.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 3);

        f.scheduler.advance(Duration.ofMinutes(4));
        assertThat(f.idle()).isEqualTo(3);
        f.scheduler.advance(Duration.ofMinutes(1));
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.connector.opened().stream().filter(Channel::isActive).count() == 1);
        assertThat(f.connector.connects()).isEqualTo(3);
    }

    @Test
    void anIdleChannelTheUpstreamEndsWithByeIsRemoved() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease a = f.lease();
        int id = f.serverId(a);
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.upstream.say(id, "* BYE Session invalidated - AccessTokenExpired\r\n", true);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 0);
        assertThat(f.snapshot().active()).isZero();
        Lease b = f.lease();
        assertThat(f.serverId(b)).isNotEqualTo(id);
        b.release(false);
    }

    @Test
    void anIdleChannelTheUpstreamDropsIsRemoved() throws Exception {
        PoolFixture f = smtp(pool(3, 0));
        Lease a = f.lease();
        int id = f.serverId(a);
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.upstream.say(id, "", true);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 0);
        assertThat(f.meters.get("mailproxy.pool.closes").tag("reason", "closed-by-upstream").counter().count())
                .isEqualTo(1);
    }

    // ------------------------------------------------------------------ throttling

    @Test
    void throttlingMakesTheAccountBackOffWithAGrowingInterval() throws Exception {
        PoolFixture f = smtp(pool(3, 0));
        UpstreamException throttled = new UpstreamException(Kind.THROTTLED, "upstream throttles submissions",
                "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", null);
        f.connector.failNext(throttled);
        f.connector.failNext(throttled);

        assertThatThrownBy(() -> f.acquire().get(5, TimeUnit.SECONDS)).cause().isSameAs(throttled);
        CompletableFuture<Lease> fast = f.acquire(); // no connection attempt during the back-off
        assertThat(failure(fast).kind()).isEqualTo(Kind.THROTTLED);
        assertThat(f.connector.connects()).isEqualTo(1);
        assertThat(f.snapshot().throttledUntil()).contains(START.plusSeconds(30));

        f.clock.advance(Duration.ofSeconds(30));
        assertThatThrownBy(() -> f.acquire().get(5, TimeUnit.SECONDS)).cause().isSameAs(throttled);
        assertThat(f.connector.connects()).isEqualTo(2);
        assertThat(f.snapshot().throttledUntil()).contains(START.plusSeconds(90)); // doubled: 60 s

        f.clock.advance(Duration.ofSeconds(59));
        assertThat(failure(f.acquire()).kind()).isEqualTo(Kind.THROTTLED);
        f.clock.advance(Duration.ofSeconds(1));
        Lease lease = f.lease();
        assertThat(f.connector.connects()).isEqualTo(3);

        lease.reportThrottled(); // 432 seen mid-session: back off again, from the initial interval
        assertThat(f.snapshot().throttledUntil()).contains(f.clock.instant().plusSeconds(30));
        lease.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        Lease idleOne = f.lease(); // an idle channel is still served during the back-off
        assertThat(idleOne.session().channel()).isSameAs(lease.session().channel());
        assertThat(failure(f.acquire()).kind()).isEqualTo(Kind.THROTTLED);
        assertThat(f.connector.connects()).isEqualTo(3);
        idleOne.release(false);
    }

    @Test
    void aBackoffTheUpstreamSuggestedKeepsNewConnectionsAwayForThatLong() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(3, 0));
        Lease lease = f.lease();
        // IMAP "Request is throttled. Suggested Backoff Time: 95000 milliseconds" seen mid-session
        lease.reportThrottled(Duration.ofSeconds(95));
        assertThat(f.snapshot().throttledUntil()).contains(f.clock.instant().plusSeconds(95));
        assertThat(failure(f.acquire()).kind()).as("the account's next login").isEqualTo(Kind.THROTTLED);
        assertThat(f.connector.connects()).isEqualTo(1);

        lease.reportThrottled(Duration.ofSeconds(12)); // a shorter one does not shorten the pause
        assertThat(f.snapshot().throttledUntil()).contains(f.clock.instant().plusSeconds(95));
        lease.reportThrottled(Duration.ofHours(1)); // a longer one extends it, up to the longest back-off
        assertThat(f.snapshot().throttledUntil()).contains(f.clock.instant().plusSeconds(600));

        f.clock.advance(Duration.ofSeconds(600));
        Lease next = f.lease();
        assertThat(f.connector.connects()).isEqualTo(2);
        next.release(false);
        lease.release(false);
    }

    // ------------------------------------------------------------------ metrics, status, reload, close

    @Test
    void metricsCountLeasesWaitsLimitHitsCreationsAndSizes() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(1, 0));
        Lease a = f.lease();
        RequiredSearch tagged = f.meters.get("mailproxy.pool.active").tag("account", ACCOUNT).tag("protocol", "imap");
        assertThat(tagged.gauge().value()).isEqualTo(1);
        assertThat(f.meters.get("mailproxy.pool.idle").gauge().value()).isZero();
        assertThat(f.meters.get("mailproxy.pool.pending").gauge().value()).isZero();
        assertThat(f.meters.get("mailproxy.pool.token.life.min").gauge().value()).isNaN();

        CompletableFuture<Lease> b = f.acquire();
        assertThat(f.meters.get("mailproxy.pool.waiting").gauge().value()).isEqualTo(1);
        f.scheduler.advance(Duration.ofSeconds(10));
        assertThat(failure(b).kind()).isEqualTo(Kind.LIMIT_REACHED);

        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
        assertThat(f.meters.get("mailproxy.pool.active").gauge().value()).isZero();
        assertThat(f.meters.get("mailproxy.pool.idle").gauge().value()).isEqualTo(1);
        assertThat(f.meters.get("mailproxy.pool.token.life.min").gauge().value()).isEqualTo(3590.0);

        CompletableFuture<Lease> c = f.acquire();
        Lease lc = c.get(5, TimeUnit.SECONDS);
        assertThat(f.meters.get("mailproxy.pool.leases").counter().count()).isEqualTo(2);
        assertThat(f.meters.get("mailproxy.pool.wait").timer().count()).isEqualTo(2);
        assertThat(f.meters.get("mailproxy.pool.limit.hits").counter().count()).isEqualTo(1);
        assertThat(f.meters.get("mailproxy.pool.creations").counter().count()).isEqualTo(1);
        lc.release(false);

        PoolSnapshot s = f.snapshot();
        assertThat(s.account()).isEqualTo(ACCOUNT);
        assertThat(s.protocol()).isEqualTo(Protocol.IMAP);
        assertThat(s.max()).isEqualTo(1);
    }

    @Test
    void aReloadWithAHigherMaxServesTheWaitingAcquire() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(1, 0));
        Lease a = f.lease();
        CompletableFuture<Lease> b = f.acquire();
        assertThat(b).isNotDone();

        f.configure(pool(2, 0));
        f.scheduler.advance(Duration.ofSeconds(5)); // housekeeping picks up the new settings
        Lease lb = b.get(5, TimeUnit.SECONDS);
        assertThat(lb.session().channel()).isNotSameAs(a.session().channel());
        assertThat(f.snapshot().max()).isEqualTo(2);

        f.configure(pool(1, 0)); // lowered again: the surplus is closed when it comes back
        f.scheduler.advance(Duration.ofSeconds(5));
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> !a.session().channel().isActive());
        lb.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);
    }

    @Test
    void anAccountRemovedByAReloadLosesItsPool() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(2, 0));
        Lease a = f.lease();
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> f.idle() == 1);

        f.config.set(new io.mailproxy.core.config.MailproxyConfig("test", java.nio.file.Path.of("state"),
                List.of(), java.util.Map.of(), java.util.Map.of(), java.util.Map.of(), java.util.Map.of(),
                null, null, null));
        f.scheduler.advance(Duration.ofSeconds(5));
        assertThat(f.registry.snapshot()).isEmpty();
        await().atMost(5, TimeUnit.SECONDS).until(() -> !a.session().channel().isActive());
        assertThat(f.meters.find("mailproxy.pool.active").gauges()).isEmpty();
    }

    @Test
    void closeFailsWaitersAndClosesEveryChannel() throws Exception {
        PoolFixture f = imap(IMAP_CAPS, pool(1, 0));
        Lease a = f.lease();
        CompletableFuture<Lease> b = f.acquire();
        f.registry.close();

        assertThat(failure(b).getMessage()).contains("shutting down");
        a.release(false);
        await().atMost(5, TimeUnit.SECONDS).until(() -> !a.session().channel().isActive());
        assertThat(failure(f.acquire()).getMessage()).contains("shutting down");
    }
}
