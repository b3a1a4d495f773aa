package io.mailproxy.testkit;

import static io.mailproxy.testkit.ScriptedUpstreamTest.xoauth2;
import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.testkit.Office365.Right;
import io.mailproxy.testkit.ScriptedUpstreamTest.Client;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * A shared mailbox opened with a delegate's token, as tenants report Exchange Online answers: IMAP and POP3 take
 * {@code user=<shared>}, SMTP only {@code user=<delegate>} and then SendAs decides at the end of DATA.
 */
class Office365SharedMailboxTest {

    private static final TestCertificates CERTS = TestCertificates.shared();
    private static final String SHARED = "info@contoso.com";
    private static final String DELEGATE = "it-admin@contoso.com";
    private static final String DELEGATE_TOKEN = "delegate-token";
    private static final String APP_TOKEN = "app-token";

    private static Office365 smtp(Right... rights) {
        return Office365.smtp(CERTS.server()).account(DELEGATE, DELEGATE_TOKEN).sharedMailbox(SHARED, DELEGATE, rights)
                .appOnlyToken(APP_TOKEN);
    }

    /** EHLO, STARTTLS, EHLO again: ready for AUTH. */
    private static Client smtpClient(ScriptedUpstream up) throws IOException {
        Client c = new Client(up.port(), false);
        c.line();
        ehlo(c);
        c.send("STARTTLS");
        assertThat(c.line()).startsWith("220 ");
        c.upgrade();
        ehlo(c);
        return c;
    }

    private static void ehlo(Client c) throws IOException {
        c.send("EHLO [127.0.0.1]");
        String line;
        do {
            line = c.line();
        } while (line.startsWith("250-"));
    }

    private static String send(Client c, String from) throws IOException {
        c.send("MAIL FROM:<" + from + ">");
        assertThat(c.line()).isEqualTo("250 2.1.0 Sender OK");
        c.send("RCPT TO:<boss@contoso.com>");
        assertThat(c.line()).isEqualTo("250 2.1.5 Recipient OK");
        c.send("DATA");
        assertThat(c.line()).startsWith("354 ");
        c.send("From: Info <" + from + ">\r\nSubject: scan\r\n\r\npage\r\n.");
        return c.line();
    }

    @Test
    void smtpRefusesTheSharedMailboxAsUserForADelegatedTokenAndAcceptsTheDelegate() throws Exception {
        Office365 script = smtp(Right.FULL_ACCESS, Right.SEND_AS);
        try (ScriptedUpstream up = script.start(); Client c = smtpClient(up)) {
            c.send("AUTH XOAUTH2 " + xoauth2(SHARED, DELEGATE_TOKEN));
            assertThat(c.line()).isEqualTo(Office365.SMTP_AUTH_FAILED).startsWith("535 5.7.3 Authentication unsuccessful");
            c.send("AUTH XOAUTH2 " + xoauth2(DELEGATE, DELEGATE_TOKEN));
            assertThat(c.line()).isEqualTo("235 2.7.0 Authentication successful");
            assertThat(send(c, SHARED)).startsWith("250 2.0.0 OK");
        }
        assertThat(script.submissions()).singleElement().satisfies(s -> {
            assertThat(s.user()).isEqualTo(DELEGATE);
            assertThat(s.mailFrom()).isEqualTo(SHARED);
        });
    }

    @Test
    void withoutSendAsTheMessageIsRefusedAtTheEndOfData() throws Exception {
        Office365 script = smtp(Right.FULL_ACCESS);
        try (ScriptedUpstream up = script.start(); Client c = smtpClient(up)) {
            c.send("AUTH XOAUTH2 " + xoauth2(DELEGATE, DELEGATE_TOKEN));
            assertThat(c.line()).startsWith("235 ");
            assertThat(send(c, SHARED)).isEqualTo(String.format(Office365.SEND_AS_DENIED, DELEGATE, SHARED))
                    .startsWith("554 5.2.252 SendAsDenied; " + DELEGATE + " not allowed to send as " + SHARED);
            assertThat(send(c, DELEGATE)).startsWith("250 2.0.0 OK"); // its own address needs no right
        }
        assertThat(script.submissions()).singleElement().satisfies(s -> assertThat(s.mailFrom()).isEqualTo(DELEGATE));
    }

    @Test
    void appOnlyTokenLogsInAsTheMailboxItself() throws Exception {
        Office365 script = smtp();
        try (ScriptedUpstream up = script.start(); Client c = smtpClient(up)) {
            c.send("AUTH XOAUTH2 " + xoauth2(SHARED, APP_TOKEN));
            assertThat(c.line()).isEqualTo("235 2.7.0 Authentication successful");
            assertThat(send(c, SHARED)).startsWith("250 2.0.0 OK");
        }
    }

    @Test
    void imapAndPop3TakeTheSharedMailboxAsUserWithFullAccess() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(DELEGATE, DELEGATE_TOKEN)
                .sharedMailbox(SHARED, DELEGATE, Right.FULL_ACCESS).start();
             Client c = new Client(up.port(), true)) {
            c.line();
            c.send("a AUTHENTICATE XOAUTH2 " + xoauth2(SHARED, DELEGATE_TOKEN));
            assertThat(c.line()).isEqualTo("a OK AUTHENTICATE completed.");
            c.send("b NOOP");
            assertThat(c.line()).isEqualTo("b OK NOOP completed.");
        }
        try (ScriptedUpstream up = Office365.pop3(CERTS.server()).account(DELEGATE, DELEGATE_TOKEN)
                .sharedMailbox(SHARED, DELEGATE, Right.FULL_ACCESS).start();
             Client c = new Client(up.port(), true)) {
            c.line();
            c.send("AUTH XOAUTH2 " + xoauth2(SHARED, DELEGATE_TOKEN));
            assertThat(c.line()).isEqualTo("+OK User successfully authenticated.");
        }
    }

    @Test
    void imapWithoutFullAccessIsAuthenticatedButNotConnected() throws Exception {
        try (ScriptedUpstream up = Office365.imap(CERTS.server()).account(DELEGATE, DELEGATE_TOKEN)
                .sharedMailbox(SHARED, DELEGATE, Right.SEND_AS).start();
             Client c = new Client(up.port(), true)) {
            c.line();
            c.send("a AUTHENTICATE XOAUTH2 " + xoauth2(SHARED, DELEGATE_TOKEN));
            assertThat(c.line()).isEqualTo("a OK AUTHENTICATE completed.");
            c.send("b SELECT INBOX");
            assertThat(c.line()).isEqualTo("b " + Office365.IMAP_NOT_CONNECTED);
        }
    }

    @Test
    void tokensFromTheFakeIdentityPlatformBelongToTheirUser() throws Exception {
        try (FakeIdentityPlatform idp = FakeIdentityPlatform.start().registerPublicClient("public")
                .addUser(DELEGATE, "pw")) {
            java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(idp.tokenEndpoint("contoso"))
                            .header("Content-Type", "application/x-www-form-urlencoded")
                            .POST(java.net.http.HttpRequest.BodyPublishers.ofString("grant_type=password&client_id=public"
                                    + "&username=" + DELEGATE + "&password=pw&scope=SMTP.Send"))
                            .build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            String token = r.body().replaceAll(".*\"access_token\":\"([^\"]+)\".*", "$1");
            try (ScriptedUpstream up = Office365.smtp(CERTS.server()).identityPlatform(idp)
                    .sharedMailbox(SHARED, DELEGATE, Right.SEND_AS).start();
                 Client c = smtpClient(up)) {
                c.send("AUTH XOAUTH2 " + xoauth2(SHARED, token));
                assertThat(c.line()).startsWith("535 5.7.3 Authentication unsuccessful");
                c.send("AUTH XOAUTH2 " + xoauth2(DELEGATE, token));
                assertThat(c.line()).isEqualTo("235 2.7.0 Authentication successful");
            }
        }
    }
}
