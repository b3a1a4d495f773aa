package io.mailproxy.imap.upstream;

import io.mailproxy.core.imap.ImapValue;
import io.mailproxy.imap.policy.ClientPolicy;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What of the upstream's untagged responses a relayed client sees: a CAPABILITY response rewritten for the proxy
 * ({@link UpstreamCapabilities}), and, for a client with a folder allow-list, LIST, LSUB, XLIST and STATUS responses
 * held whole (up to {@code max-filtered-response} bytes, literals included), then shown or dropped by
 * {@link ClientPolicy#showResponse}. A held response over the limit is dropped. Event loop (client) only.
 */
final class ResponseFilter {

    private static final Logger LOG = LoggerFactory.getLogger(ResponseFilter.class);
    private static final String CAPABILITY = "* CAPABILITY ";

    private final ClientPolicy policy;
    private final int maxHeld;
    private final String sessionId;
    /** The response being held for judgement; null when none is. */
    private CompositeByteBuf held;
    private boolean overflow;

    ResponseFilter(ClientPolicy policy, int maxHeld, String sessionId) {
        this.policy = policy;
        this.maxHeld = maxHeld;
        this.sessionId = sessionId;
    }

    /**
     * For a whole one-line untagged response's text (without CRLF): the CAPABILITY line the client may see, or
     * null when it is no CAPABILITY response.
     */
    String capabilities(String response) {
        if (!response.regionMatches(true, 0, CAPABILITY, 0, CAPABILITY.length())) {
            return null;
        }
        return UpstreamCapabilities.rewriteLine(response, policy.restrictsFolders());
    }

    /**
     * At an untagged response's first segment ({@code text}): true, and the response is held from here on, when the
     * allow-list must judge it.
     */
    boolean begin(String text, ByteBufAllocator alloc) {
        if (!policy.restrictsFolders() || !ClientPolicy.isFilteredResponse(text)) {
            return false;
        }
        held = alloc.compositeBuffer(Integer.MAX_VALUE);
        overflow = false;
        return true;
    }

    /** True between {@link #begin} and {@link #end}. */
    boolean holding() {
        return held != null;
    }

    /** Bytes of the held response (a segment or a literal chunk); the caller keeps its reference. */
    void add(ByteBuf bytes) {
        if (overflow) {
            return;
        }
        if (held.readableBytes() + bytes.readableBytes() > maxHeld) {
            overflow = true;
            return;
        }
        held.addComponent(true, bytes.retain());
    }

    /** The held response is complete: returns it when the client may see it (the caller writes it), else null. */
    ByteBuf end() {
        CompositeByteBuf buf = held;
        held = null;
        try {
            if (overflow) {
                LOG.warn("{} IMAP dropped an untagged LIST/STATUS response over {} bytes", sessionId, maxHeld);
                return null;
            }
            byte[] raw = ByteBufUtil.getBytes(buf);
            List<ImapValue> values = ImapValue.parseArguments(raw, 1, raw.length);
            return policy.showResponse(values) ? buf.retain() : null;
        } finally {
            buf.release();
        }
    }

    /** The session ends: what is held is dropped. */
    void discard() {
        if (held != null) {
            held.release();
            held = null;
        }
    }
}
