package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.SmtpCommand;
import java.util.Map;

/**
 * One SMTP command (or a small family): in which states it is accepted, and what it does. Commands keep no state of
 * their own; the session they get holds it.
 */
interface Command {

    /**
     * The reply refusing this command in {@code state} (RFC 5321 4.1.4 order), or null when the state accepts it.
     * Checked before {@link #handle}; a check that must come after another one (a syntax check, say) is in handle.
     * Only {@link SmtpState#CONNECTED}, {@link SmtpState#READY} and {@link SmtpState#MAIL} ever see a command.
     */
    default String refusal(SmtpState state) {
        return null;
    }

    void handle(SmtpSession s, SmtpCommand cmd);

    /** The command of a verb (upper case). */
    static Command of(String verb) {
        return VERBS.getOrDefault(verb, SimpleCommand.UNKNOWN);
    }

    Map<String, Command> VERBS = Map.ofEntries(
            Map.entry("EHLO", HeloCommand.EHLO), Map.entry("HELO", HeloCommand.HELO),
            Map.entry("AUTH", new AuthCommand()), Map.entry("STARTTLS", new StartTlsCommand()),
            Map.entry("MAIL", new MailCommand()), Map.entry("RCPT", new RcptCommand()),
            Map.entry("DATA", new DataCommand()),
            Map.entry("RSET", SimpleCommand.RSET), Map.entry("NOOP", SimpleCommand.NOOP),
            Map.entry("QUIT", SimpleCommand.QUIT), Map.entry("VRFY", SimpleCommand.VRFY),
            Map.entry("EXPN", SimpleCommand.EXPN), Map.entry("HELP", SimpleCommand.HELP),
            Map.entry("BDAT", SimpleCommand.BDAT),
            Map.entry("GET", SimpleCommand.HTTP), Map.entry("POST", SimpleCommand.HTTP),
            Map.entry("HEAD", SimpleCommand.HTTP), Map.entry("PUT", SimpleCommand.HTTP),
            Map.entry("CONNECT", SimpleCommand.HTTP), Map.entry("OPTIONS", SimpleCommand.HTTP));
}
