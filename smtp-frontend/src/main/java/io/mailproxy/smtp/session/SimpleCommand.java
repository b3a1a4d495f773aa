package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.SmtpCommand;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The commands that take no argument worth checking and move no transaction forward; each is accepted anywhere. */
enum SimpleCommand implements Command {
    RSET, NOOP, QUIT, VRFY, EXPN, HELP, BDAT,
    /** GET, POST and the like: a browser or an HTTP client on the SMTP port. */
    HTTP,
    UNKNOWN;

    private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);

    @Override
    public void handle(SmtpSession s, SmtpCommand cmd) {
        String host = s.settings.hostname();
        switch (this) {
            case RSET -> {
                s.endTransaction();
                if (s.state() != SmtpState.CONNECTED) {
                    s.state(SmtpState.READY);
                }
                s.junk(SmtpReplies.OK);
            }
            case NOOP -> s.junk(SmtpReplies.OK);
            case QUIT -> {
                s.endTransaction();
                s.goodbye(SmtpReplies.format(SmtpReplies.CLOSING, host));
            }
            case VRFY -> s.junk(SmtpReplies.VRFY);
            case EXPN -> s.error(SmtpReplies.EXPN);
            case HELP -> s.junk(SmtpReplies.help(StartTlsCommand.offered(s)));
            case BDAT -> s.error(SmtpReplies.BDAT);
            case HTTP -> {
                log.info("[{}] an HTTP request reached the SMTP listener; closing", s.sid());
                s.goodbye(SmtpReplies.format(SmtpReplies.NOT_HTTP, host));
            }
            case UNKNOWN -> s.error(SmtpReplies.UNRECOGNIZED);
        }
    }
}
