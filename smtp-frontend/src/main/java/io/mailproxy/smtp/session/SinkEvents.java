package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.upstream.UpstreamTransaction;
import io.netty.channel.EventLoop;

/** What one transaction's sink tells its session. */
final class SinkEvents implements MessageSink.Events {

    private final SmtpSession s;
    private final Transaction t;

    SinkEvents(SmtpSession s, Transaction t) {
        this.s = s;
        this.t = t;
    }

    @Override
    public boolean current() {
        return t == s.tx();
    }

    @Override
    public void resume() {
        s.proceed();
        s.ctx().flush();
    }

    @Override
    public void pause() {
        s.decoder.pause();
    }

    @Override
    public void failed(SmtpReply reply) {
        DataCommand.abort(s, t, reply);
    }

    @Override
    public void lost() {
        if (!current()) {
            return;
        }
        boolean streaming = s.decoder.inData() && t.phase != Transaction.Phase.AWAITING_FINAL;
        if (t.phase == Transaction.Phase.OPEN || t.phase == Transaction.Phase.DATA) {
            // Only there: a command still waiting for its reply (DATA's 354, the final dot's) got LOST before this
            // event and ended or moved the transaction; should that order ever change, its phase must keep the
            // session blocked until that reply, not turn into DEAD and let pipelined commands overtake it.
            t.phase = Transaction.Phase.DEAD;
        }
        if (streaming) {
            // the client is still sending: its final reply comes after its CRLF.CRLF
            DataCommand.abort(s, t, UpstreamTransaction.LOST);
        }
        t.backpressure = false;
        resume();
    }

    @Override
    public void count(String result) {
        s.count(result);
    }

    @Override
    public void onLoop(Runnable task) {
        s.onLoop(task);
    }

    @Override
    public EventLoop loop() {
        return s.ctx().channel().eventLoop();
    }

    @Override
    public String sid() {
        return s.sid();
    }
}
