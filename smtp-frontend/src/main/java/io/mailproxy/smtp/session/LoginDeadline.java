package io.mailproxy.smtp.session;

import io.mailproxy.core.runtime.SessionLog;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A session that is not logged in: {@code pre-login-timeout} from connect, whatever the client sends meanwhile (a
 * client sending NOOP every 20 s would otherwise hold a pre-login slot for ever), and the goodbye when the runtime
 * evicts it to admit a new connection. Event loop only.
 */
final class LoginDeadline {

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);
    /** While the credentials are being checked their answer decides: the deadline looks again this much later. */
    private static final long CHECK_GRACE_SECONDS = 5;

    private final SmtpSession s;
    private ScheduledFuture<?> timer;

    LoginDeadline(SmtpSession s) {
        this.s = s;
    }

    /** At connect, for a session that is not a listener's fixed client. */
    void arm() {
        schedule(s.settings.preLoginTimeout().toMillis());
    }

    void cancel() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    /** The runtime needs this session's pre-login slot: it leaves unless it logged in meanwhile. */
    void evict() {
        if (s.login() == null && s.state() != SmtpState.CLOSED) {
            log.info("[{}] not logged in; closed to make room for a new connection", s.sid());
            s.goodbye(s.hosted(SmtpReplies.EVICTED));
        }
    }

    private void schedule(long millis) {
        timer = s.ctx().executor().schedule(this::expired, millis, TimeUnit.MILLISECONDS);
    }

    private void expired() {
        timer = null;
        if (s.state() == SmtpState.CLOSED || s.login() != null) {
            return;
        }
        if (s.waiting() == SessionWait.LOGIN_CHECK) {
            schedule(TimeUnit.SECONDS.toMillis(CHECK_GRACE_SECONDS));
            return;
        }
        log.info("[{}] client did not log in within {}; closing", s.sid(), s.settings.preLoginTimeout());
        SessionLog.outcome(s.ctx().channel(), "login-timeout");
        s.goodbye(String.format(java.util.Locale.ROOT, SmtpReplies.NO_LOGIN_IN_TIME, s.settings.hostname(),
                s.settings.preLoginTimeout().toSeconds()));
    }
}
