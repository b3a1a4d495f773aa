package io.mailproxy.smtp.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.smtp.codec.SmtpReply;
import org.junit.jupiter.api.Test;

class Office365RepliesTest {

    private static String explain(String reply) {
        return Office365Replies.explain(SmtpReply.of(Integer.parseInt(reply.substring(0, 3)), reply.substring(4)),
                "reports@contoso.com").orElse("");
    }

    @Test
    void knownRepliesSayWhatToChange() {
        assertThat(explain("432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded")).contains("3 concurrent")
                .contains("pool.smtp.max");
        assertThat(explain("554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process"))
                .contains("10,000 recipients a day").contains("24 hours");
        assertThat(explain("550 5.2.252 SendAsDenied; throttled")).contains("throttling");
        assertThat(explain("550 5.2.255 Sender throttled due to continuous invalid recipients errors."))
                .contains("throttling").contains("invalid recipients").contains("not by volume");
        assertThat(explain("554 5.2.2 mailbox full; STOREDRV.Submission.Exception:QuotaExceededException."
                + "MapiExceptionShutoffQuotaExceeded")).contains("sending mailbox").contains("Sent Items");
        assertThat(explain("554 5.2.252 SendAsDenied; user@contoso.com not allowed to send as boss@contoso.com"))
                .contains("Send As").contains("sender = rewrite");
        assertThat(explain("535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant"))
                .contains("SmtpClientAuthenticationDisabled").contains("security defaults");
        assertThat(explain("550 5.7.60 SMTP; Client does not have permissions to send as this sender"))
                .contains("Send As").contains("sender = rewrite");
        assertThat(explain("535 5.7.30 Basic authentication is not supported for Client Submission"))
                .contains("auth.type = oauth2");
    }

    /**
     * One refusal at the end of DATA shares 5.2.252 with the throttle it leads to (research-o365.md §1 "classifier
     * trap"): 554 SendAsDenied is a missing SendAs right, 550 "Sender throttled" is the throttle.
     */
    @Test
    void aSingleSendAsDeniedIsNotTakenForTheThrottle() {
        assertThat(explain("554 5.2.252 SendAsDenied; it-admin@contoso.com not allowed to send as info@contoso.com;"
                + " STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process"
                + " message due to a permanent exception")).contains("SendAs").contains("Add-RecipientPermission")
                .contains("delegate").doesNotContain("throttling");
        assertThat(explain("550 5.2.252 Sender throttled due to continuous send as denied errors."))
                .contains("throttling");
    }

    @Test
    void ordinaryRepliesNeedNoExplanation() {
        assertThat(explain("550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found")).isEmpty();
        assertThat(explain("452 4.5.3 Too many recipients")).isEmpty();
    }
}
