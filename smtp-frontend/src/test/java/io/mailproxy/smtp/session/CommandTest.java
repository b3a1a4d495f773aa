package io.mailproxy.smtp.session;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which states accept which command, before the command looks at its argument (RFC 5321 4.1.4). */
class CommandTest {

    @Test
    void mailNeedsHeloAndNoTransactionInProgress() {
        Command mail = Command.of("MAIL");
        assertThat(mail.refusal(SmtpState.CONNECTED)).isEqualTo("503 5.5.1 Send EHLO or HELO first");
        assertThat(mail.refusal(SmtpState.READY)).isNull();
        assertThat(mail.refusal(SmtpState.MAIL)).isEqualTo("503 5.5.1 Nested MAIL command");
    }

    @Test
    void rcptAndDataOnlyInsideATransaction() {
        Command rcpt = Command.of("RCPT");
        assertThat(rcpt.refusal(SmtpState.CONNECTED)).isEqualTo("503 5.5.1 Need MAIL command first");
        assertThat(rcpt.refusal(SmtpState.READY)).isEqualTo("503 5.5.1 Need MAIL command first");
        assertThat(rcpt.refusal(SmtpState.MAIL)).isNull();
        Command data = Command.of("DATA");
        assertThat(data.refusal(SmtpState.CONNECTED)).isEqualTo("503 5.5.1 Send EHLO or HELO first");
        assertThat(data.refusal(SmtpState.READY)).isEqualTo("503 5.5.1 Need MAIL command first");
        assertThat(data.refusal(SmtpState.MAIL)).isNull();
    }

    @Test
    void authNeedsEhloFirstAndChecksTheRestItself() {
        // "Already authenticated" comes before "not inside a mail transaction": both are AUTH's own checks
        Command auth = Command.of("AUTH");
        assertThat(auth.refusal(SmtpState.CONNECTED)).isEqualTo("503 5.5.1 Send EHLO first");
        assertThat(auth.refusal(SmtpState.READY)).isNull();
        assertThat(auth.refusal(SmtpState.MAIL)).isNull();
    }

    @Test
    void theOtherCommandsAreAcceptedInEveryStateTheyCanArriveIn() {
        // STARTTLS checks whether it is offered before the state, so its state check is its own too
        for (String verb : new String[] {"EHLO", "HELO", "STARTTLS", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
                "BDAT", "GET", "XYZZY"}) {
            for (SmtpState state : new SmtpState[] {SmtpState.CONNECTED, SmtpState.READY, SmtpState.MAIL}) {
                assertThat(Command.of(verb).refusal(state)).as(verb + " in " + state).isNull();
            }
        }
    }

    @Test
    void verbsFindTheirCommands() {
        assertThat(Command.of("EHLO")).isSameAs(HeloCommand.EHLO);
        assertThat(Command.of("HELO")).isSameAs(HeloCommand.HELO);
        assertThat(Command.of("OPTIONS")).isSameAs(SimpleCommand.HTTP);
        assertThat(Command.of("CONNECT")).isSameAs(SimpleCommand.HTTP);
        assertThat(Command.of("XYZZY")).isSameAs(SimpleCommand.UNKNOWN);
        assertThat(Command.of("TURN")).isSameAs(SimpleCommand.UNKNOWN);
    }

    @Test
    void repliesThatNameTheHostFillItIn() {
        assertThat(SmtpReplies.format(SmtpReplies.SHUTTING_DOWN, "mx.test"))
                .isEqualTo("421 4.3.2 mx.test Service shutting down");
        assertThat(SmtpReplies.format(SmtpReplies.TOO_BIG_DECLARED, 10_485_760L))
                .isEqualTo("552 5.3.4 Message size exceeds fixed maximum message size (10485760)");
        assertThat(SmtpReplies.format(SmtpReplies.MAIL_SYNTAX, "100% wrong"))
                .isEqualTo("501 5.5.4 Syntax: MAIL FROM:<address> (100% wrong)");
    }
}
