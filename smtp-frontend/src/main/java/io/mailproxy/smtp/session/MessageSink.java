package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.SmtpReply;
import io.netty.buffer.ByteBuf;
import io.netty.channel.EventLoop;
import java.util.function.Consumer;

/**
 * Where one transaction's envelope and message go: the upstream over a leased connection ({@link RelaySink}), or
 * the store-and-forward spool ({@link SpoolSink}). The session drives every transaction the same way and never asks
 * which kind it has.
 *
 * <p>Every method runs on the client's event loop. A reply comes through its {@code reply} callback, at once or
 * later; a sink that answers later checks {@link Events#current()} first, and calls {@link Events#resume()} after
 * the callback, so that what waited for the reply goes on. A reply given at once needs no resume: the session is
 * still handling the command.
 */
interface MessageSink {

    /** What a sink tells its session, and what it may use of it. */
    interface Events {
        /** The transaction is still the session's (not ended, the client still there). */
        boolean current();

        /** After a reply given later, or when the sink takes bytes again: what waited goes on. */
        void resume();

        /** Stops reading the client until {@link #resume()}. */
        void pause();

        /** The message cannot be taken: the rest of it is read and dropped, then the client gets {@code reply}. */
        void failed(SmtpReply reply);

        /** The upstream connection was lost; replies still due already came ({@code UpstreamTransaction.LOST}). */
        void lost();

        /** Counts a message by its result ({@code mailproxy.smtp.messages}). */
        void count(String result);

        /** Runs {@code task} on the session's event loop, then flushes the replies it wrote. */
        void onLoop(Runnable task);

        EventLoop loop();

        /** The session id for log lines. */
        String sid();
    }

    /** MAIL: the transaction starts; a negative reply ends it. */
    void mail(Consumer<SmtpReply> reply);

    /** RCPT TO:&lt;address&gt; (checked by the session); a positive reply accepts the recipient. */
    void rcpt(String address, Consumer<SmtpReply> reply);

    /** A reply the session makes itself, sent after the replies still due to earlier commands (RFC 2920). */
    void inOrder(SmtpReply local, Consumer<SmtpReply> reply);

    /** DATA: {@code 354} starts the message; anything else ends the transaction. */
    void data(Consumer<SmtpReply> reply);

    /** Message bytes can still go to the sink (not the case once an upstream connection is gone). */
    boolean accepting();

    /** Message bytes, dot-stuffed as the client sent them; ownership taken. */
    void write(ByteBuf bytes);

    /**
     * The client's CRLF.CRLF: {@code rest} (ownership taken; null when there is none) is the last of the message (what
     * the sender rewriter still held), then the final reply ({@code 250} only once the message is safe) comes
     * through {@code reply}.
     */
    void end(ByteBuf rest, long size, Consumer<SmtpReply> reply);

    /** The message was given up while it streamed: nothing of it may be delivered. */
    void drop();

    /** Commands sent whose replies have not come. */
    int outstanding();

    /** More commands may be sent before the replies to earlier ones come. */
    boolean pipelining();

    /** The transaction ended: its final reply, RSET, EHLO or QUIT; {@code inData}: the client is mid-message. */
    void close(boolean inData);

    /** The client left or the session closes: nothing half-sent may be delivered or reused. */
    void abandon(boolean inData);
}
