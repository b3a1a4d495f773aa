package io.mailproxy.daemon.check;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.config.MailproxyConfig;
import io.mailproxy.core.upstream.UpstreamSession;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.Optional;
import java.util.Set;
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

    /**
     * The listeners' configured extensions are what the upstream must match: with smtputf8 = false (the listener
     * does not advertise it) an upstream without SMTPUTF8 is no problem; with 8bitmime on and no 8BITMIME upstream it
     * is (issue: check failed against every upstream without SMTPUTF8 although the listener never offered it).
     */
    @Test
    void smtpExtensionsAreJudgedByWhatTheListenersAdvertise() {
        MailproxyConfig config = ConfigLoader.parse("""
                mailproxy {
                  state-dir = "/nonexistent"
                  listeners = [ { protocol = smtp, bind = "127.0.0.1", port = 0 } ]
                  upstreams.fake { smtp = "smtp+starttls://127.0.0.1:9" }
                  accounts."box@example.test" { upstream = fake, auth { type = password, password = "secret:x" } }
                  smtp { smtputf8 = false, 8bitmime = true }
                }
                """, "test");
        EmbeddedChannel channel = new EmbeddedChannel();
        try {
            UpstreamSession session = new UpstreamSession(Protocol.SMTP, channel, "220 hi",
                    Set.of("PIPELINING", "SIZE 35882577"), Optional.empty());
            List<String> problems = UpstreamCheck.capabilityProblems(config,
                    config.accounts().get("box@example.test"), Protocol.SMTP, session);
            assertThat(problems).hasSize(1);
            assertThat(problems.get(0)).contains("advertise 8BITMIME").doesNotContain("SMTPUTF8");

            UpstreamSession full = new UpstreamSession(Protocol.SMTP, channel, "220 hi",
                    Set.of("8BITMIME", "SMTPUTF8"), Optional.empty());
            assertThat(UpstreamCheck.capabilityProblems(config, config.accounts().get("box@example.test"),
                    Protocol.SMTP, full)).isEmpty();
        } finally {
            channel.finishAndReleaseAll();
        }
    }

    /** SMTP through Graph: the SMTP endpoint is not what sends, and SMTP AUTH may be off for the tenant (issue 16). */
    @Test
    void theSmtpEndpointIsNotProbedWhenGraphSends() {
        MailproxyConfig config = ConfigLoader.parse("""
                mailproxy {
                  state-dir = "/nonexistent"
                  upstreams.o365 { preset = office365, send-with = graph }
                  oauth2.contoso { tenant = "contoso.onmicrosoft.com", client-id = "id", client-secret = "s" }
                  accounts."box@contoso.com" { upstream = o365, auth { provider = contoso, grant = client-credentials } }
                }
                """, "test");
        List<Protocol> probed = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<UpstreamCheck.Row> rows = new UpstreamCheck((account, protocol, loop) -> {
            probed.add(protocol);
            return java.util.concurrent.CompletableFuture.failedFuture(
                    new UpstreamException(UpstreamException.Kind.UNREACHABLE, "not in this test"));
        }).run(config, java.time.Duration.ofSeconds(5));
        assertThat(probed).containsExactlyInAnyOrder(Protocol.IMAP, Protocol.POP3);
        assertThat(rows).extracting(UpstreamCheck.Row::protocol).doesNotContain(Protocol.SMTP);
    }
}
