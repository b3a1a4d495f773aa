package io.mailproxy.core.pool;

import io.mailproxy.core.upstream.UpstreamSession;

/** A connection opened for one session because its account's pool has {@code max = 0}; ending it closes it. */
record UnpooledLease(UpstreamSession session) implements Lease {

    @Override
    public void release(boolean dirty) {
        session.channel().close();
    }
}
