package io.mailproxy.smtp.session;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.smtp.codec.MailArguments;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.rewrite.SenderRewriter;
import java.util.ArrayList;
import java.util.List;

/** One mail transaction, MAIL to the final reply (or RSET), and where its message goes. On the event loop only. */
final class Transaction {

    /** How far the transaction has come. */
    enum Phase {
        /** MAIL taken; the sink waits for something before it can start (relay: the previous lease back). */
        STARTING,
        /** The sink is being opened (relay: the pool was asked for a connection). */
        ACQUIRING,
        /** MAIL sent or answered: RCPT and DATA go to the sink. */
        OPEN,
        /** DATA went to the sink; its 354 (or refusal) is due. */
        AWAITING_354,
        /** 354 sent: the client streams its message. */
        DATA,
        /** The message ended; its final reply is due (spool: the commit has started). */
        AWAITING_FINAL,
        /** The final reply came. */
        DONE,
        /** Nothing more goes to the sink: MAIL refused, or the upstream connection lost. */
        DEAD,
        /** The session ended the transaction while the sink was still being opened. */
        CANCELLED;

        /** The sink is not open yet: the session may not go on. */
        boolean opening() {
            return this == STARTING || this == ACQUIRING;
        }

        /** The message is the sink's now (spool: committing): the session may not drop it. */
        boolean committed() {
            return this == AWAITING_FINAL || this == DONE;
        }
    }

    final AccountConfig account;
    final MailArguments mail;
    final long maxSize;
    Phase phase = Phase.STARTING;
    /** Set once, right after the transaction is made. */
    MessageSink sink;
    /** RCPT commands that went to the sink (accepted or not), for the recipient limit. */
    int recipients;
    /** Recipients the sink accepted. */
    final List<String> accepted = new ArrayList<>();
    /** The sink takes no more message bytes for now: the client is not read. */
    boolean backpressure;
    SenderRewriter rewriter;
    /** The message was given up while it streamed: the reply at its end. */
    SmtpReply abortReply;

    Transaction(AccountConfig account, MailArguments mail, long maxSize) {
        this.account = account;
        this.mail = mail;
        this.maxSize = maxSize;
    }

    int outstanding() {
        return sink == null ? 0 : sink.outstanding();
    }

    /** Replies to earlier commands or the sink itself hold the session: no command may be handled now. */
    boolean blocking() {
        return phase.opening() || phase == Phase.AWAITING_354 || phase == Phase.AWAITING_FINAL || backpressure
                || (outstanding() > 0 && !sink.pipelining());
    }

    /** The session waits for the sink, not for the client (the idle timer does not count this time). */
    boolean waiting() {
        return phase.opening() || phase == Phase.AWAITING_354 || phase == Phase.AWAITING_FINAL || backpressure
                || outstanding() > 0;
    }
}
