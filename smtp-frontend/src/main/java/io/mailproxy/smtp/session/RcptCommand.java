package io.mailproxy.smtp.session;

import io.mailproxy.smtp.codec.MailArguments;
import io.mailproxy.smtp.codec.SmtpCommand;
import io.mailproxy.smtp.codec.SmtpReply;
import io.mailproxy.smtp.upstream.UpstreamTransaction;

/** RCPT TO (RFC 5321 4.1.1.3), inside a transaction only; a valid one goes to the transaction's sink. */
final class RcptCommand implements Command {

    @Override
    public String refusal(SmtpState state) {
        return state == SmtpState.MAIL ? null : SmtpReplies.NEED_MAIL;
    }

    @Override
    public void handle(SmtpSession s, SmtpCommand cmd) {
        Transaction t = s.txOrRefuse();
        if (t == null) {
            return;
        }
        MailArguments args;
        try {
            args = MailArguments.parse(cmd.argument(), "TO");
        } catch (IllegalArgumentException e) {
            refuse(s, t, SmtpReplies.format(SmtpReplies.RCPT_SYNTAX, e.getMessage()), true);
            return;
        }
        if (args.address().isEmpty()) {
            refuse(s, t, SmtpReplies.BAD_RECIPIENT, true);
            return;
        }
        if (!args.parameters().isEmpty()) {
            String first = args.parameters().keySet().iterator().next();
            refuse(s, t, SmtpReplies.format(SmtpReplies.UNSUPPORTED_PARAMETER, first), true);
            return;
        }
        if (args.needsUtf8() && !t.mail.parameters().containsKey("SMTPUTF8")) {
            refuse(s, t, SmtpReplies.NEEDS_SMTPUTF8, true);
            return;
        }
        if (t.phase == Transaction.Phase.DEAD) {
            s.send(UpstreamTransaction.LOST.encode());
            return;
        }
        if (t.recipients >= s.settings.maxRecipients()) {
            refuse(s, t, SmtpReplies.TOO_MANY_RECIPIENTS, false);
            return;
        }
        t.recipients++;
        String address = args.address();
        t.sink.rcpt(address, r -> {
            if (r.positive()) {
                t.accepted.add(address);
            }
            s.send(r.encode());
        });
    }

    /** Refuses a RCPT here, but after the replies still due to earlier pipelined commands (RFC 2920 order). */
    private static void refuse(SmtpSession s, Transaction t, String line, boolean isError) {
        SmtpReply local = SmtpReply.of(Integer.parseInt(line.substring(0, 3)), line.substring(4));
        t.sink.inOrder(local, r -> {
            if (isError) {
                s.error(line);
            } else {
                s.reply(line);
            }
        });
    }
}
