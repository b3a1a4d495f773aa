package io.mailproxy.smtp.session;

import io.mailproxy.core.config.ClientConfig.SmtpPolicy;
import io.mailproxy.smtp.codec.MailArguments;
import io.mailproxy.smtp.codec.SmtpCommand;
import java.util.Map;

/**
 * MAIL FROM (RFC 5321 4.1.1.2) with the parameters of the extensions offered in EHLO: SIZE (RFC 1870), BODY (RFC
 * 6152), SMTPUTF8 (RFC 6531). A valid MAIL starts a {@link Transaction}; its sink gives the reply.
 */
final class MailCommand implements Command {

    @Override
    public String refusal(SmtpState state) {
        return switch (state) {
            case CONNECTED -> SmtpReplies.SEND_HELO_FIRST;
            case MAIL -> SmtpReplies.NESTED_MAIL;
            default -> null;
        };
    }

    @Override
    public void handle(SmtpSession s, SmtpCommand cmd) {
        if (s.login() == null) {
            s.error(SmtpReplies.AUTH_REQUIRED);
            return;
        }
        s.resetJunk();
        MailArguments args;
        try {
            args = MailArguments.parse(cmd.argument(), "FROM");
        } catch (IllegalArgumentException e) {
            s.error(SmtpReplies.format(SmtpReplies.MAIL_SYNTAX, e.getMessage()));
            return;
        }
        SmtpPolicy policy = s.login().client().smtp();
        long maxSize = policy.maxSize() > 0 ? policy.maxSize() : s.settings.maxMessageSize();
        String refused = checkParameters(s, args, maxSize);
        if (refused != null) {
            s.error(refused);
            return;
        }
        Transaction t = s.begin(args, maxSize);
        t.sink.mail(r -> {
            if (!r.positive()) {
                t.phase = Transaction.Phase.DEAD;
                if (s.state() == SmtpState.MAIL) {
                    s.state(SmtpState.READY);
                }
            }
            s.send(r.encode());
            if (!r.positive() && t.outstanding() == 0) {
                s.endTransaction(); // else once the replies to pipelined commands are in
            }
        });
    }

    /** The refusal of the first parameter the session does not take (all of them without EHLO), or null. */
    private static String checkParameters(SmtpSession s, MailArguments args, long maxSize) {
        SmtpSettings settings = s.settings;
        for (Map.Entry<String, String> p : args.parameters().entrySet()) {
            String value = p.getValue();
            switch (s.esmtp() ? p.getKey() : "") {
                case "SIZE" -> {
                    if (value == null || !value.matches("\\d{1,18}")) {
                        return SmtpReplies.SIZE_SYNTAX;
                    }
                    if (Long.parseLong(value) > maxSize) {
                        return SmtpReplies.format(SmtpReplies.TOO_BIG_DECLARED, maxSize);
                    }
                }
                case "BODY" -> {
                    if (value == null || !(value.equalsIgnoreCase("7BIT")
                            || (value.equalsIgnoreCase("8BITMIME") && settings.eightBitMime()))) {
                        return SmtpReplies.BODY_UNSUPPORTED;
                    }
                }
                case "SMTPUTF8" -> {
                    if (value != null || !settings.smtpUtf8()) {
                        return SmtpReplies.smtpUtf8Unsupported(value);
                    }
                }
                default -> {
                    return SmtpReplies.format(SmtpReplies.UNSUPPORTED_PARAMETER, p.getKey());
                }
            }
        }
        if (args.needsUtf8() && !args.parameters().containsKey("SMTPUTF8")) {
            return SmtpReplies.NEEDS_SMTPUTF8;
        }
        return null;
    }
}
