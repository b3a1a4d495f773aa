package io.mailproxy.smtp.session;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How long a client may stay silent: {@code pre-login-timeout} before login, {@code idle-timeout} after (RFC 5321
 * 4.5.3.2.7). Re-armed by each command; a client still sending a message, or a session waiting for the authenticator,
 * the pool or the upstream, is not idle. Event loop only.
 */
final class IdleTimer {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);

    private final SmtpSession s;
    private ScheduledFuture<?> timer;
    /** Message bytes arrived since the timer was armed (maybe only into the framer's discard of a refused message). */
    private boolean activity;

    IdleTimer(SmtpSession s) {
        this.s = s;
    }

    /** The silence allowed now: before login, and after. */
    long millis() {
        return (s.login() == null ? s.settings.preLoginTimeout() : s.settings.idleTimeout()).toMillis();
    }

    void arm() {
        cancel();
        if (s.state() == SmtpState.CLOSED) {
            return;
        }
        timer = s.ctx().executor().schedule(this::expired, millis(), TimeUnit.MILLISECONDS);
    }

    void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /** The client is sending a message: not idle, whatever the timer says. */
    void activity() {
        activity = true;
    }

    private void expired() {
        timer = null;
        if (s.state() == SmtpState.CLOSED) {
            return;
        }
        Transaction tx = s.tx();
        boolean waitingForOthers = s.waiting() == SessionWait.LOGIN_CHECK || (tx != null && tx.waiting());
        if (waitingForOthers || activity) {
            activity = false;
            arm();
            return;
        }
        log.info("[{}] client idle too long ({}); closing", s.sid(), s.login() == null ? "before login" : "after login");
        s.goodbye(s.hosted(SmtpReplies.IDLE_TIMEOUT));
    }
}
