package io.mailproxy.testkit;

import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import java.util.List;
import java.util.Locale;

/**
 * Scripts that answer as Office 365's IMAP (993), POP3 (995) and SMTP submission (587, STARTTLS) do, with their real
 * greetings, capabilities and replies, and the quirks a client must survive: XOAUTH2 rejections, the post-login
 * {@code BAD User is authenticated but not connected}, bytes injected after the STARTTLS reply, the token-expiry BYE.
 *
 * <pre>{@code
 * try (ScriptedUpstream smtp = Office365.smtp(TestCertificates.shared().server())
 *         .account("reports@contoso.com", "token-1")
 *         .start()) { ... }
 * }</pre>
 *
 * <p>{@link #builder()} gives the underlying {@link ScriptedUpstream.Builder}, so a test can replace any verb's
 * responder ({@code .builder().on("MAIL", ...)}).
 *
 * <p>Shared mailboxes ({@link #sharedMailbox}) follow what tenants observe: IMAP and POP3 open one with a delegate's
 * token when the delegate has FullAccess (without it IMAP logs in and then answers {@link #IMAP_NOT_CONNECTED}, POP3
 * refuses the login); SMTP takes only the token's own user and refuses a sender without SendAs at the end of DATA
 * ({@link #SEND_AS_DENIED}); an app-only token ({@link #appOnlyToken}) opens any mailbox. The sources are cited in
 * {@code Office365Tenant}, beside the code that decides.
 *
 * <p>The replies live in one script per protocol ({@code Office365Smtp}, {@code Office365Imap},
 * {@code Office365Pop3}); this class holds the public constants they use and the fluent setup.
 */
public final class Office365 {

    /**
     * The untagged line Office 365 sends when the access token of an IMAP session expires, unsolicited and in any
     * state, IDLE included (practitioners' reports: aioimaplib #83 after LIST, imapsync #250 on APPEND, imap-backup
     * #198; Exchange 2013's template {@code "* BYE Session invalidated - {0}"}). No Microsoft documentation.
     */
    public static final String TOKEN_EXPIRED_BYE = "* BYE Session invalidated - AccessTokenExpired";
    /**
     * The BYE Exchange sends after {@link #SERVER_UNAVAILABLE} on a connection or failover (mailbox move) failure,
     * without the number the other "Connection closed" BYEs carry (decompiled Exchange 2013 strings; seen from
     * Office 365 after {@code LIST "" "*"} in a public project note). Exchange never names a mailbox move.
     */
    public static final String CONNECTION_CLOSED_BYE = "* BYE Connection closed.";
    /** Exchange's answer to a command that hit a server-side failure (offlineimap #291 on SELECT). */
    public static final String SERVER_UNAVAILABLE = "NO Server Unavailable. 15";

    /** How Office 365 ends an IMAP session on its own (research-o365.md section 2). */
    public enum Ending {
        /** {@link #TOKEN_EXPIRED_BYE}, then the connection closes. */
        TOKEN_EXPIRED,
        /** {@link #CONNECTION_CLOSED_BYE} (a mailbox move, maintenance), then the connection closes. */
        CONNECTION_CLOSED,
        /** No word: the connection is reset. */
        RESET
    }

    /** Ends every open session of a running IMAP fake the way {@code ending} says, e.g. while a client idles. */
    public static void endSessions(ScriptedUpstream imap, Ending ending) {
        switch (ending) {
            case TOKEN_EXPIRED -> imap.endAll(false, TOKEN_EXPIRED_BYE);
            case CONNECTION_CLOSED -> imap.endAll(false, CONNECTION_CLOSED_BYE);
            case RESET -> imap.endAll(true);
        }
    }
    public static final String SMTP_HOST = "AM0PR10CA0001.outlook.office365.com";
    public static final String SMTP_GREETING =
            "220 " + SMTP_HOST + " Microsoft ESMTP MAIL Service ready at Wed, 25 Nov 2026 20:00:00 +0000";
    public static final String SMTP_AUTH_FAILED = "535 5.7.3 Authentication unsuccessful "
            + "[AM0PR10CA0001.EURPRD10.PROD.OUTLOOK.COM 2026-11-25T20:00:00.000Z 08DE2C1A7B3C4D5E]";
    public static final String IMAP_GREETING =
            "* OK The Microsoft Exchange IMAP4 service is ready. [QQBNADAAUAFIAMQAwAEMAQQAwADAAMAAxAC4A]";
    public static final String IMAP_CAPABILITY_PRE_AUTH =
            "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+";
    public static final String IMAP_CAPABILITY_STARTTLS =
            "IMAP4 IMAP4rev1 LOGINDISABLED STARTTLS SASL-IR UIDPLUS ID UNSELECT CHILDREN IDLE NAMESPACE LITERAL+";
    public static final String IMAP_CAPABILITY_AUTHENTICATED = "IMAP4 IMAP4rev1 AUTH=PLAIN AUTH=XOAUTH2 SASL-IR UIDPLUS "
            + "MOVE ID UNSELECT CLIENTACCESSRULES CLIENTNETWORKPRESENCELOCATION BACKENDAUTHENTICATE CHILDREN IDLE "
            + "NAMESPACE LITERAL+";
    public static final String IMAP_NOT_CONNECTED = "BAD User is authenticated but not connected.";
    /**
     * Office 365's IMAP throttling reply, after the tag and status word. Microsoft documents neither the text nor the
     * limits; the text is as tenants report it, the status word varies: {@code BAD} (imapsync FAQ.Office365.txt
     * "BAD Request is throttled. Suggested Backoff Time: 178755 milliseconds", email-oauth2-proxy #191, imapflow
     * lib/imap-flow.js), {@code NO} (imapsync #198 "1069 NO ... 299609 milliseconds" on APPEND, imap_tools #135 on
     * FETCH). Values seen run from about 12 s to about 300 s; email-oauth2-proxy #191 shows
     * {@code * BYE Connection closed. 14} right after it. Whether the command ran is not documented; practitioners
     * treat it as not run.
     */
    public static final String IMAP_THROTTLED = "Request is throttled. Suggested Backoff Time: %d milliseconds";
    public static final String POP3_GREETING =
            "+OK The Microsoft Exchange POP3 service is ready. [QQBNADAAUAFIAMQAwAEMAQQAwADAAMAAxAC4A]";
    public static final String POP3_AUTH_FAILED = "-ERR Authentication failure: unknown user name or bad password.";
    /** The JSON error Google-style servers send as a SASL challenge after a rejected XOAUTH2 response. */
    public static final String XOAUTH2_ERROR_JSON =
            "{\"status\":\"401\",\"schemes\":\"bearer\",\"scope\":\"https://outlook.office.com/.default\"}";

    /**
     * The end-of-DATA refusal when the authenticated user lacks SendAs on the sender (format %s user, %s address;
     * gophish #2900, 2023). The older form {@code 554 5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException...}
     * and {@code 550 5.7.60 SMTP; Client does not have permissions to send as this sender} are seen too.
     */
    public static final String SEND_AS_DENIED = "554 5.2.252 SendAsDenied; %s not allowed to send as %s; "
            + "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message"
            + " due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.";

    /** The tagged throttling reply ({@link #IMAP_THROTTLED}) with {@code status} {@code BAD} or {@code NO}, CRLF ended. */
    public static String imapThrottled(String tag, String status, long backoffMillis) {
        return tag + " " + status + " " + String.format(Locale.ROOT, IMAP_THROTTLED, backoffMillis) + "\r\n";
    }

    /** A delegate's rights on a shared mailbox: Add-MailboxPermission FullAccess, Add-RecipientPermission SendAs. */
    public enum Right { FULL_ACCESS, SEND_AS }

    /** What the fake saw submitted: the authenticated user, the envelope sender and the message. */
    public record Submission(String user, String mailFrom, String message) { }

    private final Office365Tenant tenant = new Office365Tenant();
    private final Office365Script script;

    private Office365(Dialect dialect, Security security, TestCertificates.ServerCert cert) {
        this.script = Office365Script.install(dialect, security, cert, tenant);
    }

    /** SMTP submission as on smtp.office365.com:587 (STARTTLS). */
    public static Office365 smtp(TestCertificates.ServerCert cert) {
        return new Office365(Dialect.SMTP, Security.STARTTLS, cert);
    }

    /** IMAP as on outlook.office365.com:993 (implicit TLS). */
    public static Office365 imap(TestCertificates.ServerCert cert) {
        return new Office365(Dialect.IMAP, Security.IMPLICIT_TLS, cert);
    }

    /** POP3 as on outlook.office365.com:995 (implicit TLS). */
    public static Office365 pop3(TestCertificates.ServerCert cert) {
        return new Office365(Dialect.POP3, Security.IMPLICIT_TLS, cert);
    }

    /** The same dialect on a port of the given security (IMAP on 143 with STARTTLS, POP3 on 110 with STLS...). */
    public static Office365 of(Dialect dialect, Security security, TestCertificates.ServerCert cert) {
        return new Office365(dialect, security, cert);
    }

    /** A mailbox that logs in with XOAUTH2 when the token equals {@code secret}, or PLAIN/LOGIN with that password. */
    public Office365 account(String mailbox, String secret) {
        tenant.account(mailbox, secret);
        return this;
    }

    /** A shared mailbox that {@code delegate} may open with the delegate's own token, with these rights. */
    public Office365 sharedMailbox(String mailbox, String delegate, Right... rights) {
        tenant.sharedMailbox(mailbox, delegate, rights);
        return this;
    }

    /** A client-credentials token: it opens any mailbox, named in {@code user=}. */
    public Office365 appOnlyToken(String token) {
        tenant.appOnlyToken(token);
        return this;
    }

    /** Bearer tokens are also checked with the fake identity platform (delegated ones belong to their user). */
    public Office365 identityPlatform(FakeIdentityPlatform idp) {
        tenant.identityPlatform(idp);
        return this;
    }

    /** Sends {@code bytes} right after the STARTTLS/STLS reply, in the same write (command injection). */
    public Office365 injectAfterStartTls(String bytes) {
        script.injectAfterStartTls = bytes;
        return this;
    }

    /** IMAP: every command after a successful AUTHENTICATE gets {@code BAD User is authenticated but not connected.} */
    public Office365 notConnectedAfterLogin() {
        script.notConnectedAfterLogin = true;
        return this;
    }

    /** A rejected XOAUTH2 response first gets a JSON error challenge ({@code +} / {@code 334}), then the failure. */
    public Office365 xoauth2ErrorChallenge() {
        script.errorChallenge = true;
        return this;
    }

    /** Messages accepted by SMTP DATA (dot-unstuffed, CRLF line ends). */
    public List<String> messages() {
        return tenant.messages();
    }

    /** Messages accepted by SMTP DATA, with who submitted them and the envelope sender. */
    public List<Submission> submissions() {
        return tenant.submissions();
    }

    /** The underlying builder, for overriding a verb's responder. */
    public ScriptedUpstream.Builder builder() {
        return script.builder;
    }

    public ScriptedUpstream start() {
        return script.builder.start();
    }
}
