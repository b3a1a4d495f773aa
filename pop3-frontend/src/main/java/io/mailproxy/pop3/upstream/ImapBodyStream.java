package io.mailproxy.pop3.upstream;

import io.mailproxy.core.imap.ImapClient;
import io.mailproxy.core.imap.ImapCompletion;
import io.mailproxy.core.imap.ImapLiteralChunk;
import io.mailproxy.core.imap.ImapResponseLine;
import io.mailproxy.core.imap.ImapResponseListener;
import io.mailproxy.pop3.codec.Pop3Data;
import io.mailproxy.pop3.codec.Pop3Response;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Streams the literal of {@code BODY[section]} to the client as {@link Pop3Data} (the encoder dot-stuffs it), writing
 * {@code +OK} before the first byte; with a line budget, stops after that many lines. Runs on the upstream loop.
 * Backpressure: the upstream is not read while a chunk's write to the client is pending and the client is not
 * writable.
 */
final class ImapBodyStream implements ImapResponseListener {
    private static final Pattern BODY_LITERAL =
            Pattern.compile("BODY\\[([A-Z]*)\\](?:<\\d+>)? ?~?\\{(\\d+)\\+?\\}$", Pattern.CASE_INSENSITIVE);
    private static final Pattern BODY_EMPTY =
            Pattern.compile("BODY\\[([A-Z]*)\\](?:<\\d+>)? (NIL|\"\")", Pattern.CASE_INSENSITIVE);

    private final String section;
    /** Told when the {@code +OK} goes out: from then on a failure can only close the client. */
    private final ImapUpstream upstream;
    /** The connection the fetch runs on (a later hand-over does not change it). */
    private final ImapClient up;
    private final Channel client;
    /** The body came as "" or {0}: an empty message, unless the tagged reply says it was expunged. */
    private boolean empty;
    private boolean streaming;
    /** Body bytes written to the client so far, and the last four of them, newest in the low byte. */
    private long streamed;
    private int tail;
    private int pendingWrites;
    /** Written on the upstream loop, read after the command's completion hopped to the client loop. */
    long linesLeft;
    boolean started;
    long literalLength = -1;

    /** @param section {@code ""} for RETR's whole message, {@code HEADER} or {@code TEXT} for TOP */
    ImapBodyStream(String section, long linesLeft, ImapUpstream upstream, Channel client) {
        this.section = section;
        this.linesLeft = linesLeft;
        this.upstream = upstream;
        this.up = upstream.imap();
        this.client = client;
    }

    @Override
    public void untagged(ImapResponseLine line) {
        if (line.endsResponse() && !streaming) {
            // BODY[TEXT]<n> "" or NIL: an empty piece; the +OK of an empty message waits for the tagged reply
            // (emptyMessage), as NIL and [EXPUNGEISSUED] mean another client removed it
            Matcher m = BODY_EMPTY.matcher(line.text());
            if (literalLength < 0 && m.find() && m.group(1).equalsIgnoreCase(section)) {
                literalLength = 0;
                empty = m.group(2).equals("\"\"");
            }
            return;
        }
        streaming = false;
        if (line.literalLength() >= 0) {
            Matcher m = BODY_LITERAL.matcher(line.text());
            if (m.find() && m.group(1).equalsIgnoreCase(section) && literalLength < 0) {
                literalLength = line.literalLength();
                streaming = true;
                empty = literalLength == 0;
                if (!empty) {
                    begin(literalLength);
                }
            }
        }
    }

    /**
     * After the tagged reply, on the client loop, when nothing was streamed: true (and the +OK written) for a
     * message that is really empty; false when it was removed upstream (NIL, no body, NO, [EXPUNGEISSUED]).
     */
    boolean emptyMessage(ImapCompletion c) {
        if (!empty || !c.isOk() || expungeIssued(c)) {
            return false;
        }
        begin(0);
        return true;
    }

    /** What the streamed header lacks of its CRLF CRLF ending (read after the command completed). */
    String missingHeaderEnd() {
        if (streamed == 0) {
            return "";
        }
        if (streamed >= 4 && tail == 0x0d0a0d0a) {
            return "";
        }
        return (tail & 0xffff) == 0x0d0a ? "\r\n" : "\r\n\r\n";
    }

    private static boolean expungeIssued(ImapCompletion c) {
        return c.responseCode().filter(code -> code.equalsIgnoreCase("EXPUNGEISSUED")).isPresent();
    }

    private void begin(long octets) {
        if (!started) {
            started = true;
            upstream.bodyStarted();
            client.write(Pop3Response.ok(section.isEmpty() ? octets + " octets" : "top of message follows"));
        }
    }

    @Override
    public void literal(ImapLiteralChunk chunk) {
        if (!streaming) {
            return;
        }
        if (chunk.isLast()) {
            streaming = false;
        }
        ByteBuf data = chunk.content();
        if (linesLeft <= 0 || !data.isReadable()) {
            return;
        }
        int end = data.writerIndex();
        if (linesLeft != Long.MAX_VALUE) {
            int i = data.readerIndex();
            while (linesLeft > 0) {
                int lf = data.indexOf(i, data.writerIndex(), (byte) '\n');
                if (lf < 0) {
                    break;
                }
                linesLeft--;
                i = lf + 1;
                if (linesLeft == 0) {
                    end = i;
                }
            }
        }
        for (int i = Math.max(data.readerIndex(), end - 4); i < end; i++) {
            tail = (tail << 8) | (data.getByte(i) & 0xff);
        }
        streamed += end - data.readerIndex();
        ByteBuf slice = data.retainedSlice(data.readerIndex(), end - data.readerIndex());
        pendingWrites++;
        EventLoop upstreamLoop = up.channel().eventLoop();
        client.writeAndFlush(new Pop3Data(slice)).addListener(f -> upstreamLoop.execute(() -> {
            // read on as soon as the client can take more (not only when everything is out): several chunks
            // in flight keep both sockets busy; the client's write-buffer water marks still bound the memory
            if (--pendingWrites == 0 || client.isWritable()) {
                up.resumeReading();
            }
        }));
        if (!client.isWritable()) {
            up.suspendReading();
        }
    }
}
