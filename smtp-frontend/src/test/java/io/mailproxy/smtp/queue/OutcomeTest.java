package io.mailproxy.smtp.queue;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.smtp.codec.SmtpReply;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OutcomeTest {

    /** Office 365's replies as the queue takes them: only what is permanent for the message is bounced. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "250 2.6.0 <id> Queued mail for delivery | OK",
        "451 4.4.2 Upstream connection lost | TEMPORARY",
        "432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded | TEMPORARY",
        "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message | QUOTA",
        "550 5.2.251 Sender throttled due to continuous mailbox full errors. | THROTTLED",
        "550 5.2.255 Sender throttled due to continuous invalid recipients errors. | THROTTLED",
        // the sending mailbox (whose Sent Items get a copy of every submission) is full: the account's fault
        "554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded | THROTTLED",
        "554 5.2.2 STOREDRV.Submission.Exception:QuotaExceededException.MapiExceptionQuotaExceeded | THROTTLED",
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup | PERMANENT",
        "554 5.2.252 SendAsDenied; user@contoso.com not allowed to send as boss@contoso.com | PERMANENT",
        "554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Cannot submit | PERMANENT",
        "552 5.3.4 Message size exceeds fixed maximum message size | PERMANENT",
    })
    void office365RepliesAreTakenAsDocumented(String reply, Outcome expected) {
        SmtpReply r = SmtpReply.of(Integer.parseInt(reply.substring(0, 3)), reply.substring(4));
        assertThat(Outcome.of(r)).isEqualTo(expected);
    }
}
