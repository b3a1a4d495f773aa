package io.mailproxy.daemon.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.upstream.UpstreamException;
import java.util.List;
import org.junit.jupiter.api.Test;

class UpstreamCheckTest {

    @Test
    void smtpAuthDisabledSaysForWhomAsFarAsTheReplyTells() {
        String tenant = UpstreamCheck.explain(new UpstreamException(UpstreamException.Kind.CREDENTIALS_REJECTED,
                "AUTH XOAUTH2 refused", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                        + "disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
                null));
        assertThat(tenant).contains("disabled for the whole tenant").contains("5.7.139");
        String mailbox = UpstreamCheck.explain(new UpstreamException(UpstreamException.Kind.CREDENTIALS_REJECTED,
                "AUTH XOAUTH2 refused", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is "
                        + "disabled for the Mailbox.", null));
        assertThat(mailbox).contains("for this mailbox");
        String basic = UpstreamCheck.explain(new UpstreamException(UpstreamException.Kind.CREDENTIALS_REJECTED,
                "AUTH LOGIN refused", "550 5.7.30 Basic authentication is not supported for Client Submission",
                null));
        assertThat(basic).contains("auth.type = oauth2");
    }

    @Test
    void tableAlignsColumnsAndMarksFailures() {
        List<String> t = UpstreamCheck.table(List.of(
                new UpstreamCheck.Row("a@x", Protocol.IMAP, "imaps://h:993", true, "logged in"),
                new UpstreamCheck.Row("longer@x", Protocol.SMTP, "smtp+starttls://h:587", false, "refused")));
        assertThat(t).hasSize(3);
        assertThat(t.get(0)).startsWith("ACCOUNT ");
        assertThat(t.get(2)).contains("FAIL").endsWith("refused");
        assertThat(t.get(1).indexOf("imaps")).isEqualTo(t.get(2).indexOf("smtp+"));
    }
}
