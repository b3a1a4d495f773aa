package io.mailproxy.imap;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.testkit.core.FakeCore;
import io.mailproxy.testkit.core.FakeLease;
import io.mailproxy.testkit.core.FakeListener;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;

/** A client connection through the IMAP frontend and an upstream, both embedded: every byte is observable. */
public final class Harness implements AutoCloseable {

    public final FakeCore core = new FakeCore().withClock(FakeCore.FIXED_CLOCK);
    public final FakeListener listener = new FakeListener(io.mailproxy.core.Protocol.IMAP);
    public final EmbeddedChannel client = new EmbeddedChannel();
    public final EmbeddedChannel upstream = new EmbeddedChannel();
    /** A second upstream connection (the one a token hand-over moves to). */
    public final EmbeddedChannel upstream2 = new EmbeddedChannel();

    public Harness start() {
        new ImapFrontend(core).initChannel(client, listener);
        return this;
    }

    /** What the hand-over and recovery tests' upstream advertises (as Office 365 does, less what they do not need). */
    public static final String[] MOVE_CAPABILITIES = {"IMAP4REV1", "LITERAL+", "IDLE", "UIDPLUS", "MOVE"};

    /** The pool's next lease: {@link #upstream2}, with a token that has {@code tokenLife} left. */
    public FakeLease secondLease(Duration tokenLife, String... capabilities) {
        return core.nextLease(upstream2, Optional.of(core.clock.instant().plus(tokenLife)), capabilities);
    }

    /**
     * Alice (default policy) logs in on a first lease whose token has {@code tokenLife} left, and SELECTs INBOX (3
     * messages, UIDVALIDITY 7): where the hand-over and recovery tests start.
     */
    public FakeLease loggedInAndSelected(Duration tokenLife, String... capabilities) {
        core.client("alice", "secret", ClientConfig.ImapPolicy.DEFAULT, Protocol.IMAP);
        FakeLease lease = core.nextLease(upstream, Optional.of(core.clock.instant().plus(tokenLife)), capabilities);
        start().received();
        send("a1 LOGIN alice secret\r\n");
        assertThat(received()).startsWith("a1 OK ");
        send("s1 SELECT INBOX\r\n");
        assertThat(upstreamGot()).isEqualTo("s1 SELECT INBOX\r\n");
        reply("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\ns1 OK [READ-WRITE] SELECT completed.\r\n");
        assertThat(received()).endsWith("s1 OK [READ-WRITE] SELECT completed.\r\n");
        return lease;
    }

    /** The client sends. */
    public Harness send(String text) {
        client.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        settle();
        return this;
    }

    public Harness send(byte[] bytes) {
        client.writeInbound(Unpooled.wrappedBuffer(bytes));
        settle();
        return this;
    }

    /** The upstream sends. */
    public Harness reply(String text) {
        upstream.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        settle();
        return this;
    }

    public Harness reply(byte[] bytes) {
        upstream.writeInbound(Unpooled.wrappedBuffer(bytes));
        settle();
        return this;
    }

    public void settle() {
        for (int i = 0; i < 5; i++) {
            client.runPendingTasks();
            upstream.runPendingTasks();
            upstream2.runPendingTasks();
        }
    }

    /** What the client received since the last call. */
    public String received() {
        settle();
        return drain(client);
    }

    /** The second upstream sends. */
    public Harness reply2(String text) {
        upstream2.writeInbound(Unpooled.copiedBuffer(text, StandardCharsets.UTF_8));
        settle();
        return this;
    }

    /** What the second upstream received since the last call. */
    public String upstream2Got() {
        settle();
        return drain(upstream2);
    }

    /** What the upstream received since the last call. */
    public String upstreamGot() {
        settle();
        return drain(upstream);
    }

    public byte[] receivedBytes() {
        settle();
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuf b;
        while ((b = client.readOutbound()) != null) {
            byte[] x = new byte[b.readableBytes()];
            b.readBytes(x);
            out.write(x, 0, x.length);
            b.release();
        }
        return out.toByteArray();
    }

    private static String drain(EmbeddedChannel ch) {
        StringBuilder sb = new StringBuilder();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            sb.append(b.toString(StandardCharsets.UTF_8));
            b.release();
        }
        return sb.toString();
    }

    /** Greeting read, logged in as alice with an upstream of the given capabilities. */
    public FakeLease loggedIn(io.mailproxy.core.config.ClientConfig.ImapPolicy policy, String... caps) {
        core.client("alice", "secret", policy, io.mailproxy.core.Protocol.IMAP);
        FakeLease lease = core.nextLease(upstream, caps);
        start();
        received();
        send("a1 LOGIN alice secret\r\n");
        String r = received();
        if (!r.startsWith("a1 OK ")) {
            throw new AssertionError("login failed: " + r);
        }
        return lease;
    }

    @Override
    public void close() {
        client.finishAndReleaseAll();
        upstream.finishAndReleaseAll();
        upstream2.finishAndReleaseAll();
    }
}
