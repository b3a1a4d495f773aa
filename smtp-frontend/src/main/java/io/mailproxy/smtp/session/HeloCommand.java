package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.SmtpCommand;
import io.mailproxy.smtp.codec.SmtpReply;
import java.util.ArrayList;
import java.util.List;

/** EHLO and HELO (RFC 5321 4.1.1.1): accepted in every state; a transaction in progress ends. */
final class HeloCommand implements Command {

    static final HeloCommand EHLO = new HeloCommand(true);
    static final HeloCommand HELO = new HeloCommand(false);

    private final boolean extended;

    private HeloCommand(boolean extended) {
        this.extended = extended;
    }

    @Override
    public void handle(SmtpSession s, SmtpCommand cmd) {
        String name = cmd.argument().trim();
        if (name.isEmpty() || name.contains(" ")) {
            s.error(SmtpReplies.format(SmtpReplies.HELO_SYNTAX, extended ? "EHLO" : "HELO"));
            return;
        }
        if (name.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            // RFC 5321 4.1.1.1: a domain or an address literal. Legacy devices send odd names (underscores, bare
            // host names), which pass; control characters are neither and never pass.
            s.error(SmtpReplies.INVALID_DOMAIN);
            return;
        }
        s.endTransaction();
        s.esmtp(extended);
        s.state(SmtpState.READY);
        SmtpSettings settings = s.settings;
        if (!extended) {
            s.reply("250 " + settings.hostname());
            return;
        }
        List<String> lines = new ArrayList<>();
        lines.add(settings.hostname() + " greets " + name.replaceAll("\\p{Cc}", "?"));
        lines.add("PIPELINING");
        lines.add("SIZE " + settings.maxMessageSize());
        if (settings.eightBitMime()) {
            lines.add("8BITMIME");
        }
        if (settings.smtpUtf8()) {
            lines.add("SMTPUTF8");
        }
        lines.add("ENHANCEDSTATUSCODES");
        if (s.listener.fixedClient().isEmpty() && s.login() == null && !StartTlsCommand.requiredForAuth(s)) {
            lines.add("AUTH " + String.join(" ", AuthCommand.MECHANISMS));
        }
        if (StartTlsCommand.offered(s)) {
            lines.add("STARTTLS");
        }
        lines.add("HELP");
        s.send(new SmtpReply(250, lines).encode());
    }
}
