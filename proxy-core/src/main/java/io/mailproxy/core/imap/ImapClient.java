package io.mailproxy.core.imap;

import io.mailproxy.core.upstream.UpstreamException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small IMAP command layer on an authenticated upstream channel: sends one command at a time with its own tag,
 * and completes with the tagged response. Untagged responses are either collected into the {@link ImapCompletion}
 * ({@link #execute(String)}, bounded by {@code maxCollected}) or streamed to an {@link ImapResponseListener}
 * ({@link #execute(String, ImapResponseListener)}).
 *
 * <p>Reads are explicit (AUTO_READ stays off): the client reads only while a command is in flight and not
 * {@linkplain #suspendReading() suspended}. Everything runs on the channel's event loop; {@code execute} may be
 * called from any thread. Failures are {@link UpstreamException}s: {@code UNREACHABLE} when the connection closes
 * (with the server's {@code BYE} text as the upstream reply), {@code PROTOCOL_ERROR} for what IMAP does not allow.
 *
 * <p>Tags are {@code <prefix><counter>}. They cannot collide with a relayed client's tags because the client layer
 * only runs commands while no client command is in flight on the channel.
 */
public final class ImapClient {

    public static final String DECODER_NAME = "imap-response-decoder";
    public static final String HANDLER_NAME = "imap-client";
    /** Default bound on what {@link #execute(String)} collects for one command. */
    public static final int DEFAULT_MAX_COLLECTED = 4 * 1024 * 1024;

    private static final Logger LOG = LoggerFactory.getLogger(ImapClient.class);

    private final Channel channel;
    private final String tagPrefix;
    private final int maxCollected;
    private final Handler handler = new Handler();
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();
    private Pending current;
    private long counter;
    private boolean suspended;
    private String bye;
    private ImapResponseListener unsolicited;

    private ImapClient(Channel channel, String tagPrefix, int maxCollected) {
        this.channel = channel;
        this.tagPrefix = tagPrefix;
        this.maxCollected = maxCollected;
    }

    /** Attaches with tag prefix {@code "mpx"} and default limits. */
    public static ImapClient attach(Channel channel) {
        return attach(channel, "mpx", ImapResponseDecoder.DEFAULT_MAX_LINE_LENGTH, DEFAULT_MAX_COLLECTED);
    }

    /**
     * Adds the response decoder and this client's handler at the end of the channel's pipeline (after
     * {@code "tls"}, per the hand-over contract of {@link io.mailproxy.core.upstream.UpstreamSession}).
     *
     * @param tagPrefix an atom prefix for the tags of this client's commands
     */
    public static ImapClient attach(Channel channel, String tagPrefix, int maxLineLength, int maxCollected) {
        if (tagPrefix.isEmpty() || !tagPrefix.chars().allMatch(c -> c > ' ' && c < 127 && "(){%*\"\\]+".indexOf(c) < 0)) {
            throw new IllegalArgumentException("tag prefix must be a non-empty atom: " + tagPrefix);
        }
        ImapClient client = new ImapClient(channel, tagPrefix, maxCollected);
        ChannelPipeline p = channel.pipeline();
        p.addLast(DECODER_NAME, new ImapResponseDecoder(maxLineLength));
        p.addLast(HANDLER_NAME, client.handler);
        return client;
    }

    public Channel channel() {
        return channel;
    }

    /** Runs {@code command} (without tag and CRLF, e.g. {@code "UID SEARCH ALL"}), collecting untagged responses. */
    public CompletableFuture<ImapCompletion> execute(String command) {
        return enqueue(command, null);
    }

    /**
     * Runs {@code command} and streams its untagged responses to {@code listener}; the completion's untagged list is
     * empty. A command may carry non-synchronizing literals inline ({@code {n+}CRLF...}) if the server has LITERAL+.
     */
    public CompletableFuture<ImapCompletion> execute(String command, ImapResponseListener listener) {
        return enqueue(command, listener);
    }

    /** Writes raw bytes (an answer to a continuation request, {@code DONE} after IDLE). Event loop only. */
    public void write(String text) {
        channel.writeAndFlush(ByteBufUtil.writeUtf8(channel.alloc(), text));
    }

    /** Stops reading from the server until {@link #resumeReading()}: backpressure for a listener. Event loop only. */
    public void suspendReading() {
        suspended = true;
    }

    /** Reads again after {@link #suspendReading()}. Event loop only. */
    public void resumeReading() {
        if (suspended) {
            suspended = false;
            if (current != null) {
                channel.read();
            }
        }
    }

    /** Receives untagged responses that arrive while no command runs (they are dropped by default). */
    public void onUnsolicited(ImapResponseListener listener) {
        this.unsolicited = listener;
    }

    /** True when no command is queued or running. Event loop only. */
    public boolean isIdle() {
        return current == null && queue.isEmpty();
    }

    /** The text of an untagged BYE received on this connection, or null. */
    public String byeText() {
        return bye;
    }

    /**
     * Removes this client's handlers, leaving the channel as the hand-over contract describes. Call on the event
     * loop while {@link #isIdle()}.
     */
    public void detach() {
        ChannelPipeline p = channel.pipeline();
        if (p.get(HANDLER_NAME) == handler) {
            p.remove(HANDLER_NAME);
        }
        if (p.get(DECODER_NAME) != null) {
            p.remove(DECODER_NAME);
        }
    }

    private CompletableFuture<ImapCompletion> enqueue(String command, ImapResponseListener listener) {
        if (command.isEmpty() || command.endsWith("\n")) {
            throw new IllegalArgumentException("command must be non-empty, without CRLF");
        }
        CompletableFuture<ImapCompletion> future = new CompletableFuture<>();
        Pending p = new Pending(command, listener, future);
        if (channel.eventLoop().inEventLoop()) {
            submit(p);
        } else {
            channel.eventLoop().execute(() -> submit(p));
        }
        return future;
    }

    private void submit(Pending p) {
        if (!channel.isActive()) {
            p.future.completeExceptionally(closed());
            return;
        }
        queue.add(p);
        if (current == null) {
            next();
        }
    }

    private void next() {
        if (current != null) {
            return; // a completion callback already started the next command
        }
        current = queue.poll();
        if (current == null) {
            return;
        }
        current.tag = tagPrefix + (++counter);
        if (LOG.isDebugEnabled()) {
            LOG.debug("C: {} {}", current.tag, redact(current.command));
        }
        channel.writeAndFlush(ByteBufUtil.writeUtf8(channel.alloc(), current.tag + " " + current.command + "\r\n"));
        if (!suspended) {
            channel.read();
        }
    }

    private static String redact(String command) {
        int sp = command.indexOf(' ');
        String verb = sp < 0 ? command : command.substring(0, sp);
        return verb.equalsIgnoreCase("LOGIN") || verb.equalsIgnoreCase("AUTHENTICATE") ? verb + " ***" : command;
    }

    private UpstreamException closed() {
        return new UpstreamException(UpstreamException.Kind.UNREACHABLE, "IMAP upstream closed the connection", bye, null);
    }

    private void failAll(UpstreamException e) {
        Pending p = current;
        current = null;
        if (p != null) {
            p.future.completeExceptionally(e);
        }
        while ((p = queue.poll()) != null) {
            p.future.completeExceptionally(e);
        }
    }

    private void onLine(ImapResponseLine line) {
        if (line.isFirst() && line.status() == ImapStatus.BYE && line.kind() == ImapResponseLine.Kind.UNTAGGED) {
            bye = line.text();
        }
        Pending p = current;
        if (line.kind() == ImapResponseLine.Kind.TAGGED) {
            if (p == null || !line.tag().equals(p.tag)) {
                protocolError("tagged response for a command not sent: " + line.text());
                return;
            }
            if (line.endsResponse()) {
                String text = line.text();
                int sp1 = text.indexOf(' ');
                int sp2 = sp1 < 0 ? -1 : text.indexOf(' ', sp1 + 1);
                ImapStatus status = line.status();
                if (status == null || status == ImapStatus.BYE || status == ImapStatus.PREAUTH) {
                    protocolError("tagged response without OK/NO/BAD: " + text);
                    return;
                }
                current = null;
                p.future.complete(new ImapCompletion(p.tag, status, sp2 < 0 ? "" : text.substring(sp2 + 1), p.collected));
                next();
            }
            return;
        }
        if (line.kind() == ImapResponseLine.Kind.CONTINUATION) {
            if (p == null || !(p.listener != null && p.listener.continuation(line, this))) {
                protocolError("unexpected continuation request: " + line.text());
            }
            return;
        }
        if (p == null) {
            if (unsolicited != null) {
                unsolicited.untagged(line);
            }
            return;
        }
        if (p.listener != null) {
            p.listener.untagged(line);
            return;
        }
        p.collect(line.content(), maxCollected);
        if (line.endsResponse()) {
            p.finishCollected(line.status());
        }
    }

    private void onLiteral(ImapLiteralChunk chunk) {
        Pending p = current;
        if (p == null) {
            if (unsolicited != null) {
                unsolicited.literal(chunk);
            }
        } else if (p.listener != null) {
            p.listener.literal(chunk);
        } else {
            p.collect(chunk.content(), maxCollected);
        }
    }

    private void protocolError(String what) {
        LOG.warn("IMAP upstream protocol error, closing: {}", what);
        failAll(new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR, "IMAP upstream protocol error", what, null));
        channel.close();
    }

    /** One command. */
    private static final class Pending {
        final String command;
        final ImapResponseListener listener;
        final CompletableFuture<ImapCompletion> future;
        final List<ImapResponse> collected = new ArrayList<>();
        final ByteArrayOutputStream building = new ByteArrayOutputStream();
        String tag;
        long collectedBytes;
        boolean overflow;

        Pending(String command, ImapResponseListener listener, CompletableFuture<ImapCompletion> future) {
            this.command = command;
            this.listener = listener;
            this.future = future;
        }

        void collect(ByteBuf buf, int max) {
            collectedBytes += buf.readableBytes();
            if (collectedBytes > max) {
                overflow = true;
                return;
            }
            byte[] bytes = ByteBufUtil.getBytes(buf);
            building.write(bytes, 0, bytes.length);
        }

        void finishCollected(ImapStatus status) {
            if (overflow) {
                if (!future.isDone()) {
                    future.completeExceptionally(new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR,
                            "untagged responses of \"" + command.split(" ", 2)[0] + "\" exceed " + collectedBytes + " bytes"));
                }
                building.reset();
                return;
            }
            byte[] raw = building.toByteArray();
            building.reset();
            int len = raw.length;
            if (len > 0 && raw[len - 1] == '\n') {
                len--;
                if (len > 0 && raw[len - 1] == '\r') {
                    len--;
                }
            }
            collected.add(new ImapResponse(status, len == raw.length ? raw : java.util.Arrays.copyOf(raw, len)));
        }
    }

    /** The pipeline end of the client. */
    private final class Handler extends ChannelInboundHandlerAdapter {

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof ImapResponseLine line) {
                    onLine(line);
                } else if (msg instanceof ImapLiteralChunk chunk) {
                    onLiteral(chunk);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (current != null && !suspended) {
                ctx.read();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            failAll(closed());
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.debug("IMAP upstream failed, closing", cause);
            failAll(new UpstreamException(UpstreamException.Kind.PROTOCOL_ERROR, "IMAP upstream failed: " + cause.getMessage(),
                    bye, cause));
            ctx.close();
        }
    }
}
