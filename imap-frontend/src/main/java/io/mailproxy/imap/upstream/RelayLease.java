package io.mailproxy.imap.upstream;

import io.mailproxy.core.imap.ImapResponseDecoder;
import io.mailproxy.core.pool.Lease;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;

/**
 * The leased upstream connection a relay writes to, what the session did with it, and how it goes back to the
 * pool: unused, used (the pool resets it), dirty (state the pool cannot reset: ENABLE, NOTIFY, CONDSTORE...), or
 * discarded when it is not idle. A hand-over replaces it with the fresh connection's.
 */
final class RelayLease {

    /** What the session did with the lease. */
    enum Use { UNUSED, USED, DIRTY }

    private final Lease lease;
    private final Channel channel;
    private Use use;
    /** Given back already (a recovery discards the old lease at once; the relay's end must not again). */
    private boolean given;

    RelayLease(Lease lease, Use use) {
        this.lease = lease;
        this.channel = lease.session().channel();
        this.use = use;
    }

    Lease lease() {
        return lease;
    }

    Channel channel() {
        return channel;
    }

    boolean hasCapability(String capability) {
        return lease.session().hasCapability(capability);
    }

    /** Bytes for the upstream (not flushed): from now on the pool must reset the connection. */
    void write(ByteBuf buf) {
        if (use == Use.UNUSED) {
            use = Use.USED;
        }
        channel.write(buf);
    }

    /** The session did what the pool cannot undo. */
    void dirty() {
        use = Use.DIRTY;
    }

    boolean isDirty() {
        return use == Use.DIRTY;
    }

    /** Puts the relay's decoder and {@code handler} on the connection (lines up to {@code maxLineLength}). */
    void attach(RelayUpstreamHandler handler, int maxLineLength) {
        channel.pipeline().addLast(ImapRelay.UPSTREAM_DECODER, new ImapResponseDecoder(Math.max(maxLineLength,
                ImapResponseDecoder.DEFAULT_MAX_LINE_LENGTH)));
        channel.pipeline().addLast(ImapRelay.UPSTREAM_HANDLER, handler);
    }

    /** Takes the relay's handlers off the connection (on its event loop). */
    void detach() {
        if (channel.pipeline().get(ImapRelay.UPSTREAM_HANDLER) != null) {
            channel.pipeline().remove(ImapRelay.UPSTREAM_HANDLER);
        }
        if (channel.pipeline().get(ImapRelay.UPSTREAM_DECODER) != null) {
            channel.pipeline().remove(ImapRelay.UPSTREAM_DECODER);
        }
    }

    /** Gives the lease back, on the connection's event loop: discarded when {@code close}, else as {@link Use} says. */
    void giveBack(boolean close) {
        if (given) {
            return;
        }
        given = true;
        Use used = use;
        Runnable giveBack = () -> {
            detach();
            if (close) {
                lease.discard();
            } else if (used == Use.UNUSED) {
                lease.releaseUnused();
            } else {
                lease.release(used == Use.DIRTY);
            }
        };
        if (channel.eventLoop().inEventLoop()) {
            giveBack.run();
        } else {
            channel.eventLoop().execute(giveBack);
        }
    }

    /** How {@link #giveBack} ends it, for the log. */
    String fate(boolean close) {
        return close ? "discarded" : use == Use.DIRTY ? "released dirty" : "released";
    }
}
