package io.mailproxy.testkit;

import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Exchange;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

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
 * <p>Shared mailboxes ({@link #sharedMailbox}) follow what tenants observe, not one Microsoft page:
 * <ul>
 * <li>IMAP and POP3 accept XOAUTH2 {@code user=<shared mailbox>} with a delegate's token when the delegate has
 *     FullAccess (office-developer-exchange-docs, legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-
 *     by-using-oauth.md, "SASL XOAUTH2 authentication for shared mailboxes in Office 365"). Without FullAccess, IMAP
 *     answers AUTHENTICATE OK and then {@code BAD User is authenticated but not connected.} (MailKit #1486; some
 *     tenants answer {@code NO AUTHENTICATE failed.} instead, ImapEngine #54) and POP3 fails the login: no Microsoft
 *     documentation for either.</li>
 * <li>SMTP accepts a delegated token only with {@code user=} the token's own user: {@code user=<shared mailbox>} gets
 *     {@link #SMTP_AUTH_FAILED} (nextcloud/mail #13667 and PR #13668, frappe #23079, MailKit #1770,
 *     email-oauth2-proxy PR #426). The delegate then sends {@code MAIL FROM:<shared mailbox>}, and Exchange applies
 *     SendAs at submission: without it the message is refused at the end of DATA with {@link #SEND_AS_DENIED}'s
 *     text (gophish #2900 and #2670; Microsoft documents no reply for OAuth delegates).</li>
 * <li>An app-only token ({@link #appOnlyToken}, or a client-credentials token of {@link #identityPlatform}) logs in
 *     with {@code user=<mailbox>} on every protocol.</li>
 * </ul>
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

    private static final List<String> SMTP_EXTENSIONS_TAIL = List.of("8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8");

    private final ScriptedUpstream.Builder builder;
    private final Map<String, String> accounts = new ConcurrentHashMap<>();
    private final List<String> messages = new CopyOnWriteArrayList<>();
    private final List<Submission> submissions = new CopyOnWriteArrayList<>();
    /** shared mailbox (lower case) -> delegate (lower case) -> rights */
    private final Map<String, Map<String, Set<Right>>> shared = new ConcurrentHashMap<>();
    private final Set<String> appTokens = ConcurrentHashMap.newKeySet();
    private volatile FakeIdentityPlatform identity;
    private volatile String injectAfterStartTls = "";
    private volatile boolean notConnectedAfterLogin;
    private volatile boolean errorChallenge;

    private Office365(Dialect dialect, Security security, TestCertificates.ServerCert cert) {
        this.builder = ScriptedUpstream.builder(dialect).security(security, cert);
        switch (dialect) {
            case SMTP -> smtp(security);
            case IMAP -> imap(security);
            case POP3 -> pop3(security);
            default -> throw new IllegalArgumentException(dialect.toString());
        }
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
        accounts.put(mailbox, secret);
        return this;
    }

    /** A shared mailbox that {@code delegate} may open with the delegate's own token, with these rights. */
    public Office365 sharedMailbox(String mailbox, String delegate, Right... rights) {
        shared.computeIfAbsent(lower(mailbox), m -> new ConcurrentHashMap<>())
                .put(lower(delegate), rights.length == 0 ? Set.of() : Set.of(rights));
        return this;
    }

    /** A client-credentials token: it opens any mailbox, named in {@code user=}. */
    public Office365 appOnlyToken(String token) {
        appTokens.add(token);
        return this;
    }

    /** Bearer tokens are also checked with the fake identity platform (delegated ones belong to their user). */
    public Office365 identityPlatform(FakeIdentityPlatform idp) {
        this.identity = idp;
        return this;
    }

    /** Sends {@code bytes} right after the STARTTLS/STLS reply, in the same write (command injection). */
    public Office365 injectAfterStartTls(String bytes) {
        this.injectAfterStartTls = bytes;
        return this;
    }

    /** IMAP: every command after a successful AUTHENTICATE gets {@code BAD User is authenticated but not connected.} */
    public Office365 notConnectedAfterLogin() {
        this.notConnectedAfterLogin = true;
        return this;
    }

    /** A rejected XOAUTH2 response first gets a JSON error challenge ({@code +} / {@code 334}), then the failure. */
    public Office365 xoauth2ErrorChallenge() {
        this.errorChallenge = true;
        return this;
    }

    /** Messages accepted by SMTP DATA (dot-unstuffed, CRLF line ends). */
    public List<String> messages() {
        return List.copyOf(messages);
    }

    /** Messages accepted by SMTP DATA, with who submitted them and the envelope sender. */
    public List<Submission> submissions() {
        return List.copyOf(submissions);
    }

    /** The underlying builder, for overriding a verb's responder. */
    public ScriptedUpstream.Builder builder() {
        return builder;
    }

    public ScriptedUpstream start() {
        return builder.start();
    }

    // ---------------------------------------------------------------- SMTP

    private void smtp(Security security) {
        builder.greeting(SMTP_GREETING);
        builder.on("EHLO", ex -> {
            List<String> ext = new ArrayList<>(List.of(SMTP_HOST + " Hello [127.0.0.1]", "SIZE 157286400", "PIPELINING",
                    "DSN", "ENHANCEDSTATUSCODES"));
            if (security == Security.STARTTLS && !ex.isTls()) {
                ext.add("STARTTLS");
            } else {
                ext.add("AUTH LOGIN XOAUTH2");
            }
            ext.addAll(SMTP_EXTENSIONS_TAIL);
            ex.reply(multiline("250", ext));
        });
        builder.on("HELO", ex -> ex.reply("250 " + SMTP_HOST + " Hello [127.0.0.1]"));
        builder.on("STARTTLS", ex -> {
            if (ex.isTls()) {
                ex.reply("503 5.5.1 Bad sequence of commands");
            } else {
                ex.startTlsInjecting(injectAfterStartTls, "220 2.0.0 SMTP server ready");
            }
        });
        builder.on("AUTH", ex -> {
            if (security == Security.STARTTLS && !ex.isTls()) {
                ex.reply("504 5.7.4 Unrecognized authentication type");
                return;
            }
            if (ex.state().containsKey("user")) {
                ex.reply("503 5.5.2 Already authenticated");
                return;
            }
            String[] a = ex.args().split(" ");
            switch (a[0].toUpperCase(Locale.ROOT)) {
                case "XOAUTH2" -> {
                    if (a.length > 1) {
                        smtpXoauth2(ex, a[1]);
                    } else {
                        ex.reply("334 ");
                        ex.expectContinuation(c -> smtpXoauth2(c, c.line()));
                    }
                }
                case "LOGIN" -> {
                    ex.reply("334 VXNlcm5hbWU6");
                    ex.expectContinuation(u -> {
                        String user = decode(u.line());
                        u.reply("334 UGFzc3dvcmQ6");
                        u.expectContinuation(p -> {
                            if (checkSecret(user, decode(p.line()))) {
                                p.state().put("user", user);
                                p.reply("235 2.7.0 Authentication successful");
                            } else {
                                p.reply(SMTP_AUTH_FAILED);
                            }
                        });
                    });
                }
                default -> ex.reply("504 5.7.4 Unrecognized authentication type");
            }
        });
        builder.on("NOOP", ex -> ex.reply("250 2.0.0 OK"));
        builder.on("RSET", ex -> {
            ex.state().remove("rcpt");
            ex.reply("250 2.0.0 Resetting");
        });
        builder.on("MAIL", ex -> {
            if (!ex.state().containsKey("user")) {
                ex.reply("530 5.7.57 Client not authenticated to send mail. [AM0PR10CA0001.EURPRD10.PROD.OUTLOOK.COM]");
            } else {
                String args = ex.args();
                int lt = args.indexOf('<');
                int gt = args.indexOf('>', lt + 1);
                ex.state().put("mail-from", lt >= 0 && gt > lt ? args.substring(lt + 1, gt) : "");
                ex.reply("250 2.1.0 Sender OK");
            }
        });
        builder.on("RCPT", ex -> {
            ex.state().put("rcpt", Boolean.TRUE);
            ex.reply("250 2.1.5 Recipient OK");
        });
        builder.on("DATA", ex -> {
            if (!ex.state().containsKey("rcpt")) {
                ex.reply("503 5.5.1 Bad sequence of commands");
                return;
            }
            ex.reply("354 Start mail input; end with <CRLF>.<CRLF>");
            StringBuilder body = new StringBuilder();
            ScriptedUpstream.Responder[] data = new ScriptedUpstream.Responder[1];
            data[0] = d -> {
                if (d.line().equals(".")) {
                    d.state().remove("rcpt");
                    String user = String.valueOf(d.state().get("user"));
                    String mailFrom = String.valueOf(d.state().getOrDefault("mail-from", ""));
                    String denied = sendAsDenied(user, mailFrom, body.toString());
                    if (denied != null) {
                        d.reply(String.format(SEND_AS_DENIED, user, denied));
                        return;
                    }
                    messages.add(body.toString());
                    submissions.add(new Submission(user, mailFrom, body.toString()));
                    d.reply("250 2.0.0 OK <" + messages.size() + "@" + SMTP_HOST + "> [Hostname=" + SMTP_HOST + "]");
                } else {
                    body.append(d.line().startsWith(".") ? d.line().substring(1) : d.line()).append("\r\n");
                    d.expectContinuation(data[0]);
                }
            };
            ex.expectContinuation(data[0]);
        });
        builder.on("QUIT", ex -> {
            ex.reply("221 2.0.0 Service closing transmission channel");
            ex.close();
        });
        builder.otherwise(ex -> ex.reply("500 5.3.3 Unrecognized command"));
    }

    private void smtpXoauth2(Exchange ex, String b64) {
        String[] userToken = parseXoauth2(b64);
        if (userToken != null && bearer(Dialect.SMTP, userToken[0], userToken[1]) == Bearer.OK) {
            ex.state().put("user", userToken[0]);
            ex.reply("235 2.7.0 Authentication successful");
        } else if (errorChallenge) {
            ex.reply("334 " + encode(XOAUTH2_ERROR_JSON));
            ex.expectContinuation(c -> c.reply(SMTP_AUTH_FAILED));
        } else {
            ex.reply(SMTP_AUTH_FAILED);
        }
    }

    // ---------------------------------------------------------------- IMAP

    private void imap(Security security) {
        builder.greeting(IMAP_GREETING);
        builder.on("CAPABILITY", ex -> {
            if (imapNotConnected(ex)) {
                return;
            }
            String caps = ex.state().containsKey("user") ? IMAP_CAPABILITY_AUTHENTICATED
                    : security == Security.STARTTLS && !ex.isTls() ? IMAP_CAPABILITY_STARTTLS : IMAP_CAPABILITY_PRE_AUTH;
            ex.reply("* CAPABILITY " + caps, ex.tag() + " OK CAPABILITY completed.");
        });
        builder.on("STARTTLS", ex -> {
            if (ex.isTls()) {
                ex.reply(ex.tag() + " BAD Command received in Invalid state.");
            } else {
                ex.startTlsInjecting(injectAfterStartTls, ex.tag() + " OK Begin TLS negotiation now.");
            }
        });
        builder.on("AUTHENTICATE", ex -> {
            if (security == Security.STARTTLS && !ex.isTls()) {
                ex.reply(ex.tag() + " BAD Command received in Invalid state.");
                return;
            }
            String[] a = ex.args().split(" ");
            String mech = a[0].toUpperCase(Locale.ROOT);
            if (!mech.equals("XOAUTH2") && !mech.equals("PLAIN")) {
                ex.reply(ex.tag() + " NO The specified authentication mechanism is not supported.");
                return;
            }
            if (a.length > 1) {
                imapAuth(ex, ex.tag(), mech, a[1]);
            } else {
                ex.reply("+ ");
                String tag = ex.tag();
                ex.expectContinuation(c -> imapAuth(c, tag, mech, c.line()));
            }
        });
        builder.on("LOGIN", ex -> {
            String[] a = ex.args().replace("\"", "").split(" ");
            if (a.length == 2 && checkSecret(a[0], a[1])) {
                ex.state().put("user", a[0]);
                ex.reply(ex.tag() + " OK LOGIN completed.");
            } else {
                ex.reply(ex.tag() + " NO LOGIN failed.");
            }
        });
        builder.on("NOOP", ex -> {
            if (!imapNotConnected(ex)) {
                ex.reply(ex.tag() + " OK NOOP completed.");
            }
        });
        builder.on("IDLE", ex -> {
            if (!imapNotConnected(ex)) {
                String tag = ex.tag();
                ex.reply("+ IDLE accepted, awaiting DONE command.");
                ex.expectContinuation(done -> done.reply(tag + " OK IDLE completed."));
            }
        });
        builder.on("LOGOUT", ex -> {
            ex.reply("* BYE Microsoft Exchange Server IMAP4 server signing off.", ex.tag() + " OK LOGOUT completed.");
            ex.close();
        });
        builder.otherwise(ex -> {
            if (!imapNotConnected(ex)) {
                ex.reply(ex.tag() + " BAD Command Error. 12");
            }
        });
    }

    private boolean imapNotConnected(Exchange ex) {
        if ((notConnectedAfterLogin && ex.state().containsKey("user")) || ex.state().containsKey("not-connected")) {
            ex.reply(ex.tag() + " " + IMAP_NOT_CONNECTED);
            return true;
        }
        return false;
    }

    private void imapAuth(Exchange ex, String tag, String mech, String b64) {
        String[] userSecret = mech.equals("XOAUTH2") ? parseXoauth2(b64) : parsePlain(b64);
        Bearer outcome = userSecret == null ? Bearer.FAILED : mech.equals("XOAUTH2")
                ? bearer(Dialect.IMAP, userSecret[0], userSecret[1])
                : checkSecret(userSecret[0], userSecret[1]) ? Bearer.OK : Bearer.FAILED;
        if (outcome != Bearer.FAILED) {
            ex.state().put("user", userSecret[0]);
            if (outcome == Bearer.NOT_CONNECTED) {
                ex.state().put("not-connected", Boolean.TRUE);
            }
            ex.reply(tag + " OK AUTHENTICATE completed.");
        } else if (errorChallenge && mech.equals("XOAUTH2")) {
            ex.reply("+ " + encode(XOAUTH2_ERROR_JSON));
            ex.expectContinuation(c -> c.reply(tag + " NO AUTHENTICATE failed."));
        } else {
            ex.reply(tag + " NO AUTHENTICATE failed.");
        }
    }

    // ---------------------------------------------------------------- POP3

    private void pop3(Security security) {
        builder.greeting(POP3_GREETING);
        builder.on("CAPA", ex -> {
            List<String> caps = new ArrayList<>(List.of("+OK", "TOP", "UIDL"));
            if (security == Security.STARTTLS && !ex.isTls()) {
                caps.add("STLS");
                caps.add("USER");
            } else if (!ex.state().containsKey("user")) {
                caps.add("SASL PLAIN XOAUTH2");
                caps.add("USER");
            }
            caps.add(".");
            ex.reply(caps.toArray(new String[0]));
        });
        builder.on("STLS", ex -> {
            if (ex.isTls()) {
                ex.reply("-ERR Command is not valid in this state.");
            } else {
                ex.startTlsInjecting(injectAfterStartTls, "+OK Begin TLS negotiation");
            }
        });
        builder.on("AUTH", ex -> {
            String[] a = ex.args().split(" ");
            String mech = a[0].toUpperCase(Locale.ROOT);
            if (!mech.equals("XOAUTH2") && !mech.equals("PLAIN")) {
                ex.reply("-ERR Unrecognized authentication type.");
                return;
            }
            if (a.length > 1) {
                pop3Auth(ex, mech, a[1]);
            } else {
                ex.reply("+ ");
                ex.expectContinuation(c -> pop3Auth(c, mech, c.line()));
            }
        });
        builder.on("USER", ex -> {
            ex.state().put("pending-user", ex.args());
            ex.reply("+OK");
        });
        builder.on("PASS", ex -> {
            Object user = ex.state().remove("pending-user");
            if (user != null && checkSecret(user.toString(), ex.args())) {
                ex.state().put("user", user.toString());
                ex.reply("+OK User successfully logged on.");
            } else {
                ex.reply("-ERR Logon failure: unknown user name or bad password.");
            }
        });
        builder.on("NOOP", ex -> ex.reply("+OK"));
        builder.on("STAT", ex -> ex.reply("+OK 0 0"));
        builder.on("QUIT", ex -> {
            ex.reply("+OK Microsoft Exchange Server POP3 server signing off.");
            ex.close();
        });
        builder.otherwise(ex -> ex.reply("-ERR Protocol error. 14"));
    }

    private void pop3Auth(Exchange ex, String mech, String b64) {
        String[] userSecret = mech.equals("XOAUTH2") ? parseXoauth2(b64) : parsePlain(b64);
        boolean ok = userSecret != null && (mech.equals("XOAUTH2")
                ? bearer(Dialect.POP3, userSecret[0], userSecret[1]) == Bearer.OK
                : checkSecret(userSecret[0], userSecret[1]));
        if (ok) {
            ex.state().put("user", userSecret[0]);
            ex.reply("+OK User successfully authenticated.");
        } else {
            ex.reply(POP3_AUTH_FAILED);
        }
    }

    // ---------------------------------------------------------------- SASL helpers

    private boolean checkSecret(String user, String secret) {
        String expected = accounts.get(user);
        return expected != null && expected.equals(secret);
    }

    private enum Bearer { OK, NOT_CONNECTED, FAILED }

    /** An XOAUTH2 login of {@code user=} with {@code token} over {@code protocol} (see the class comment). */
    private Bearer bearer(Dialect protocol, String user, String token) {
        if (checkSecret(user, token) || appTokens.contains(token)) {
            return Bearer.OK;
        }
        String owner = null;
        for (Map.Entry<String, String> e : accounts.entrySet()) {
            if (e.getValue().equals(token)) {
                owner = e.getKey();
            }
        }
        FakeIdentityPlatform idp = identity;
        if (owner == null && idp != null) {
            Optional<String> delegated = idp.delegatedUser(token);
            if (delegated.isPresent()) {
                owner = delegated.get();
            } else if (idp.isValid(token, user)) {
                return Bearer.OK; // app-only: user= names the mailbox
            }
        }
        if (owner == null) {
            return Bearer.FAILED;
        }
        if (owner.equalsIgnoreCase(user)) {
            return Bearer.OK;
        }
        if (protocol == Dialect.SMTP) {
            return Bearer.FAILED; // 535 5.7.3: SMTP wants the token's own user, never the shared mailbox
        }
        Set<Right> rights = shared.getOrDefault(lower(user), Map.of()).get(lower(owner));
        if (rights == null) {
            return Bearer.FAILED;
        }
        if (rights.contains(Right.FULL_ACCESS)) {
            return Bearer.OK;
        }
        return protocol == Dialect.IMAP ? Bearer.NOT_CONNECTED : Bearer.FAILED;
    }

    /**
     * The address {@code user} may not send as (envelope sender or From:), or null: sending as a shared mailbox needs
     * SendAs unless the login was the mailbox itself (app-only). Other addresses are not checked.
     */
    private String sendAsDenied(String user, String mailFrom, String message) {
        List<String> senders = new ArrayList<>();
        senders.add(mailFrom);
        int end = message.indexOf("\r\n\r\n");
        for (String line : (end < 0 ? message : message.substring(0, end)).split("\r\n")) {
            if (line.regionMatches(true, 0, "From:", 0, 5)) {
                int lt = line.indexOf('<');
                int gt = line.indexOf('>', lt + 1);
                senders.add(lt >= 0 && gt > lt ? line.substring(lt + 1, gt) : line.substring(5).trim());
            }
        }
        for (String address : senders) {
            Map<String, Set<Right>> delegates = shared.get(lower(address));
            if (delegates != null && !address.equalsIgnoreCase(user)
                    && !delegates.getOrDefault(lower(user), Set.of()).contains(Right.SEND_AS)) {
                return address;
            }
        }
        return null;
    }

    private static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }

    /** {@code [user, token]} from a base64 XOAUTH2 response, or null if malformed. */
    static String[] parseXoauth2(String b64) {
        String s = decode(b64);
        if (s == null) {
            return null;
        }
        String user = null;
        String token = null;
        for (String part : s.split("\u0001")) {
            if (part.startsWith("user=")) {
                user = part.substring(5);
            } else if (part.startsWith("auth=Bearer ")) {
                token = part.substring("auth=Bearer ".length());
            }
        }
        return user == null || token == null || !s.endsWith("\u0001\u0001") ? null : new String[] {user, token};
    }

    /** {@code [authcid, password]} from a base64 PLAIN response, or null if malformed. */
    static String[] parsePlain(String b64) {
        String s = decode(b64);
        if (s == null) {
            return null;
        }
        String[] p = s.split("\u0000", -1);
        return p.length == 3 ? new String[] {p[1], p[2]} : null;
    }

    private static String decode(String b64) {
        try {
            return new String(Base64.getDecoder().decode(b64.trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static String encode(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String[] multiline(String code, List<String> lines) {
        String[] out = new String[lines.size()];
        for (int i = 0; i < lines.size(); i++) {
            out[i] = code + (i == lines.size() - 1 ? " " : "-") + lines.get(i);
        }
        return out;
    }
}
