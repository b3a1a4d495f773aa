package io.mailproxy.imap.upstream;

import io.mailproxy.core.imap.ImapLiteralChunk;
import io.mailproxy.core.imap.ImapResponseLine;
import io.mailproxy.core.imap.ImapStatus;
import io.mailproxy.imap.ImapSettings;
import io.mailproxy.imap.policy.ClientPolicy;
import io.mailproxy.imap.upstream.CommandTracker.InFlight;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream's responses on their way to the client, cut by core's response decoder: relayed byte for byte,
 * except what {@link ResponseFilter} rewrites or holds; untagged responses feed {@link SelectedMailbox}. The proxy's
 * own replies never land inside a response being relayed: they wait for its end. What decides the session's course
 * goes to the relay: a continuation request, a tagged completion (with the command it completes), a BYE.
 * Event loop (client) only.
 */
final class UpstreamResponses {

    private static final Logger LOG = LoggerFactory.getLogger(UpstreamResponses.class);

    private final ImapRelay relay;
    private final Channel client;
    private final CommandTracker tracker;
    private final ResponseFilter filter;
    private final SelectedMailbox mailbox;
    private final String sessionId;
    /** The proxy's own replies (refusals, "+" for the client's literals) held while a response is relayed. */
    private final ArrayDeque<ByteBuf> own = new ArrayDeque<>();
    /** Inside a response (after its first segment, before its last). */
    private boolean inResponse;
    /** The command the tagged response being relayed completes. */
    private InFlight taggedFor;

    UpstreamResponses(ImapRelay relay, Channel client, CommandTracker tracker, SelectedMailbox mailbox,
                      ClientPolicy policy, ImapSettings settings, String sessionId) {
        this.relay = relay;
        this.client = client;
        this.filter = new ResponseFilter(policy, settings.maxFilteredResponse(), sessionId);
        this.tracker = tracker;
        this.mailbox = mailbox;
        this.sessionId = sessionId;
    }

    /** Between responses: nothing half relayed and nothing held for the allow-list. */
    boolean betweenResponses() {
        return !inResponse && !filter.holding();
    }

    /** A message of the upstream's response decoder; released here. */
    void onMessage(Object msg) {
        try {
            if (msg instanceof ImapResponseLine line) {
                inResponse = !line.endsResponse();
                onLine(line);
                if (!relay.ended()) {
                    flushOwn();
                }
            } else if (msg instanceof ImapLiteralChunk chunk) {
                inResponse = true;
                if (filter.holding()) {
                    filter.add(chunk.content());
                } else {
                    client.write(chunk.content().retain());
                }
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onLine(ImapResponseLine line) {
        if (line.isFirst()) {
            switch (line.kind()) {
                case CONTINUATION -> {
                    relay.continuation(line);
                    return;
                }
                case TAGGED -> {
                    taggedFor = tracker.completed(line.tag());
                    if (taggedFor == null) {
                        LOG.warn("{} IMAP upstream completed a command not sent: {}", sessionId, line.text());
                    }
                }
                case UNTAGGED -> {
                    taggedFor = null;
                    if (line.status() == ImapStatus.BYE) {
                        relay.upstreamSaidBye(line.text());
                        return;
                    }
                    String text = line.endsResponse() ? line.text() : "";
                    if (!mailbox.untagged(line.status(), line.text(), line.endsResponse())) {
                        return; // the answer to the proxy's own UID FETCH (the message view)
                    }
                    String capabilities = filter.capabilities(text);
                    if (capabilities != null) {
                        client.write(ByteBufUtil.writeUtf8(client.alloc(), capabilities + "\r\n"));
                        return;
                    }
                    filter.begin(line.text(), client.alloc());
                }
                default -> throw new IllegalStateException();
            }
        }
        if (filter.holding()) {
            filter.add(line.content());
            ByteBuf shown = line.endsResponse() ? filter.end() : null;
            if (shown != null) {
                client.write(shown);
            }
        } else if (line.kind() == ImapResponseLine.Kind.TAGGED && line.endsResponse()) {
            InFlight f = taggedFor;
            taggedFor = null;
            relay.completed(line, f);
        } else {
            client.write(line.content().retain());
        }
    }

    /** A reply of the proxy's own: never inside a response being relayed (a literal, a FETCH, a LIST). */
    void writeOwn(ByteBuf buf) {
        if (!betweenResponses() || !own.isEmpty()) {
            own.add(buf);
        } else {
            client.writeAndFlush(buf);
        }
    }

    /** At a response boundary: what the proxy had to say meanwhile. */
    private void flushOwn() {
        if (!betweenResponses() || own.isEmpty()) {
            return;
        }
        ByteBuf b;
        while ((b = own.poll()) != null) {
            client.write(b);
        }
        client.flush();
    }

    /** What the old connection sends while a hand-over reads from it (EXPUNGE, EXISTS, FETCH): the client's too. */
    void relayMeanwhile(ByteBuf bytes, boolean ended) {
        if (ended) {
            bytes.release();
        } else {
            client.writeAndFlush(bytes);
        }
    }

    /** The session ends: what is held is dropped. */
    void release() {
        own.forEach(ReferenceCountUtil::release);
        own.clear();
        filter.discard();
    }
}
