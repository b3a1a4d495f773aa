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
        t.phase = Transaction.Phase.DEAD;
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
