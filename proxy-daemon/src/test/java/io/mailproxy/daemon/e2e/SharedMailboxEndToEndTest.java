package io.mailproxy.daemon.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.config.ConfigLoader;
import io.mailproxy.core.credentials.FileSecretStore;
import io.mailproxy.core.credentials.TokenService;
import io.mailproxy.daemon.Daemon;
import io.mailproxy.testkit.FakeIdentityPlatform;
import io.mailproxy.testkit.Office365;
import io.mailproxy.testkit.Office365.Right;
import io.mailproxy.testkit.ScriptedUpstream;
import io.mailproxy.testkit.TestCertificates;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A scanner sending from a shared mailbox through the assembled daemon to the scripted Office 365 (port 587,
 * STARTTLS, XOAUTH2 checked against the fake identity platform): with a delegate's token SMTP logs in as the
 * delegate and sends as the shared mailbox; IMAP logs in as the shared mailbox; app-only logs in as the mailbox.
 */
class SharedMailboxEndToEndTest {

    private static final String TENANT = "contoso.onmicrosoft.com";
    private static final String CLIENT_ID = "11111111-2222-3333-4444-555555555555";
    private static final String CLIENT_SECRET = "Zq8~client-secret-value-Kx2";
    private static final String SHARED = "scans@contoso.com";
    private static final String DELEGATE = "it-admin@contoso.com";
    private static final String APP_MAILBOX = "reports@contoso.com";
    private static final String SCANNER = "scanner";
    private static final String SCANNER_PW = "scanner-local-Secret-3";
    private static final String KEEPER = "keeper";
    private static final String KEEPER_PW = "keeper-local-Secret-2";
    private static final String NO_SEND_AS = "frontdesk@contoso.com";
    private static final String DESK = "desk";
    private static final String DESK_PW = "desk-local-Secret-0";
    private static final String APP = "app";
    private static final String APP_PW = "app-local-Secret-1";

    @TempDir
    Path state;

    private FakeIdentityPlatform idp;
    private Office365 smtpScript;
    private ScriptedUpstream smtp;
    private ScriptedUpstream imap;
    private Daemon daemon;

    @BeforeEach
    void start() {
        TestCertificates certs = TestCertificates.shared();
        idp = FakeIdentityPlatform.start().registerClient(CLIENT_ID, CLIENT_SECRET);
        smtpScript = Office365.smtp(certs.server()).identityPlatform(idp)
                .sharedMailbox(SHARED, DELEGATE, Right.FULL_ACCESS, Right.SEND_AS)
                .sharedMailbox(NO_SEND_AS, DELEGATE, Right.FULL_ACCESS);
        smtp = smtpScript.start();
        imap = Office365.imap(certs.server()).identityPlatform(idp)
                .sharedMailbox(SHARED, DELEGATE, Right.FULL_ACCESS).start();
        String key = E2eFixture.masterKey();
        FileSecretStore store = FileSecretStore.open(state, Map.of("MAILPROXY_MASTER_KEY", key));
        store.put("app-secret", CLIENT_SECRET);
        store.put(TokenService.refreshTokenName("contoso", DELEGATE), idp.issueRefreshToken(CLIENT_ID, DELEGATE,
                "https://outlook.office.com/SMTP.Send offline_access"));
        String config = """
                mailproxy {
                  state-dir = "%s"
                  listeners = [
                    { protocol = smtp, bind = "127.0.0.1", port = 0 }
                    { protocol = imap, bind = "127.0.0.1", port = 0 }
                  ]
                  upstreams.o365 {
                    smtp = "smtp+starttls://127.0.0.1:%d"
                    imap = "imaps://127.0.0.1:%d"
                    ca-file = "%s"
                  }
                  oauth2.contoso {
                    token-endpoint = "%s"
                    client-id = "%s"
                    client-secret = "secret:app-secret"
                  }
                  accounts."%s" {
                    upstream = o365
                    auth { type = oauth2, provider = contoso, grant = refresh-token, principal = "%s" }
                    pool.imap.min-idle = 0
                  }
                  accounts."%s" {
                    upstream = o365
                    auth { type = oauth2, provider = contoso, grant = refresh-token, principal = "%s" }
                  }
                  accounts."%s" {
                    upstream = o365
                    auth { type = oauth2, provider = contoso, grant = client-credentials }
                    pool.imap.min-idle = 0
                  }
                  clients.%s { password = "%s", account = "%s", protocols = [smtp], smtp { sender = rewrite } }
                  clients.%s { password = "%s", account = "%s", protocols = [smtp, imap] }
                  clients.%s { password = "%s", account = "%s", protocols = [smtp] }
                  clients.%s { password = "%s", account = "%s", protocols = [smtp], smtp { sender = rewrite } }
                  admin { enabled = false }
                }
                """.formatted(state, smtp.port(), imap.port(), certs.caPem(), idp.tokenEndpoint(TENANT), CLIENT_ID,
                SHARED, DELEGATE, NO_SEND_AS, DELEGATE, APP_MAILBOX,
                SCANNER, E2eFixture.hash(SCANNER_PW), SHARED,
                KEEPER, E2eFixture.hash(KEEPER_PW), SHARED,
                APP, E2eFixture.hash(APP_PW), APP_MAILBOX,
                DESK, E2eFixture.hash(DESK_PW), NO_SEND_AS);
        daemon = Daemon.start(ConfigLoader.parse(config, "shared.conf"), Map.of("MAILPROXY_MASTER_KEY", key));
    }

    @AfterEach
    void stop() {
        if (daemon != null) {
            daemon.close();
        }
        smtp.close();
        imap.close();
        idp.close();
    }

    private InetSocketAddress smtpListener() {
        return daemon.boundAddresses().get(0);
    }

    private static String plain(String user, String password) {
        return Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
    }

    private static String reply(LineClient c) throws Exception {
        String l;
        do {
            l = c.line();
        } while (l != null && l.length() > 3 && l.charAt(3) == '-');
        return l;
    }

    /** One message through the proxy; returns the reply to the final dot. */
    private String send(String client, String password, String mailFrom, String message) throws Exception {
        try (LineClient c = LineClient.connect(smtpListener())) {
            assertThat(reply(c)).startsWith("220 ");
            c.send("EHLO scanner.example");
            assertThat(reply(c)).startsWith("250 ");
            c.send("AUTH PLAIN " + plain(client, password));
            assertThat(reply(c)).startsWith("235 ");
            c.send("MAIL FROM:<" + mailFrom + ">");
            assertThat(reply(c)).startsWith("250 ");
            c.send("RCPT TO:<boss@fabrikam.example>");
            assertThat(reply(c)).startsWith("250 ");
            c.send("DATA");
            assertThat(reply(c)).startsWith("354 ");
            c.sendRaw((message + ".\r\n").getBytes(StandardCharsets.UTF_8));
            String end = reply(c);
            c.send("QUIT");
            reply(c);
            return end;
        }
    }

    /** The XOAUTH2 user= of each AUTH the upstream received. */
    private static List<String> xoauth2Users(ScriptedUpstream up) {
        return up.received().stream()
                .filter(l -> l.startsWith("AUTH XOAUTH2 ") || l.contains("AUTHENTICATE XOAUTH2 "))
                .map(l -> new String(Base64.getDecoder().decode(l.substring(l.lastIndexOf(' ') + 1)),
                        StandardCharsets.UTF_8))
                .map(s -> s.substring("user=".length(), s.indexOf('\u0001')))
                .toList();
    }

    @Test
    void delegatedSharedMailboxLogsInAsTheDelegateAndSendsAsTheSharedMailboxWithFromRewritten() throws Exception {
        String message = "From: Scanner <scanner@printer.local>\r\nSubject: scan 1\r\n\r\npage\r\n";
        assertThat(send(SCANNER, SCANNER_PW, "scanner@printer.local", message)).startsWith("250 2.0.0 OK");

        assertThat(xoauth2Users(smtp)).containsOnly(DELEGATE);
        assertThat(smtp.received()).contains("MAIL FROM:<" + SHARED + ">");
        assertThat(smtpScript.submissions()).singleElement().satisfies(s -> {
            assertThat(s.user()).isEqualTo(DELEGATE);
            assertThat(s.mailFrom()).isEqualTo(SHARED);
            assertThat(s.message()).contains("From: Scanner <" + SHARED + ">").doesNotContain("From: Scanner <scanner@");
        });
    }

    @Test
    void delegatedSharedMailboxKeepsTheClientsEnvelopeSenderWithSenderKeep() throws Exception {
        String message = "From: " + SHARED + "\r\nSubject: scan 2\r\n\r\npage\r\n";
        assertThat(send(KEEPER, KEEPER_PW, SHARED, message)).startsWith("250 2.0.0 OK");
        assertThat(xoauth2Users(smtp)).containsOnly(DELEGATE);
        assertThat(smtpScript.submissions()).singleElement().satisfies(s -> assertThat(s.mailFrom()).isEqualTo(SHARED));
    }

    /** Exchange checks SendAs when the message is submitted; its refusal reaches the client at the end of DATA. */
    @Test
    void withoutSendAsTheClientGetsOffice365sRefusalAtTheEndOfData() throws Exception {
        String message = "From: desk@printer.local\r\nSubject: scan 3\r\n\r\npage\r\n";
        assertThat(send(DESK, DESK_PW, "desk@printer.local", message))
                .isEqualTo(String.format(Office365.SEND_AS_DENIED, DELEGATE, NO_SEND_AS));
        assertThat(xoauth2Users(smtp)).containsOnly(DELEGATE);
        assertThat(smtpScript.submissions()).isEmpty();
    }

    @Test
    void imapOfTheSharedMailboxStillLogsInAsTheSharedMailbox() throws Exception {
        try (LineClient c = LineClient.connect(daemon.boundAddresses().get(1))) {
            c.line();
            assertThat(c.imap("a", "LOGIN " + KEEPER + " " + KEEPER_PW)).last().asString().startsWith("a OK");
            assertThat(c.imap("b", "NOOP")).last().asString().startsWith("b OK");
        }
        assertThat(xoauth2Users(imap)).contains(SHARED).doesNotContain(DELEGATE); // frontdesk@ warms its pool too
    }

    @Test
    void appOnlyLogsInToSmtpAsTheMailbox() throws Exception {
        String message = "From: " + APP_MAILBOX + "\r\nSubject: report\r\n\r\nbody\r\n";
        assertThat(send(APP, APP_PW, APP_MAILBOX, message)).startsWith("250 2.0.0 OK");
        assertThat(xoauth2Users(smtp)).containsOnly(APP_MAILBOX);
    }
}
