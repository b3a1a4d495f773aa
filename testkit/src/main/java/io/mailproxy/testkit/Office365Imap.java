package io.mailproxy.testkit;

import static io.mailproxy.testkit.Office365.IMAP_CAPABILITY_AUTHENTICATED;
import static io.mailproxy.testkit.Office365.IMAP_CAPABILITY_PRE_AUTH;
import static io.mailproxy.testkit.Office365.IMAP_CAPABILITY_STARTTLS;
import static io.mailproxy.testkit.Office365.IMAP_GREETING;
import static io.mailproxy.testkit.Office365.IMAP_NOT_CONNECTED;
import static io.mailproxy.testkit.Office365.XOAUTH2_ERROR_JSON;

import io.mailproxy.testkit.Office365Tenant.Bearer;
import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Exchange;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import java.util.Locale;

/**
 * IMAP as Office 365 answers it on outlook.office365.com:993: its capabilities before and after login, AUTHENTICATE
 * XOAUTH2 and PLAIN, IDLE, and {@link Office365#IMAP_NOT_CONNECTED} after a login that succeeded without access to the
 * mailbox (see {@link Office365Tenant}). Sessions ended by the server are {@link Office365#endSessions}'s.
 */
final class Office365Imap extends Office365Script {

    Office365Imap(ScriptedUpstream.Builder builder, Security security, Office365Tenant tenant) {
        super(builder, security, tenant);
    }

    @Override
    void install() {
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
            if (a.length == 2 && tenant.checkSecret(a[0], a[1])) {
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
                ? tenant.bearer(Dialect.IMAP, userSecret[0], userSecret[1])
                : tenant.checkSecret(userSecret[0], userSecret[1]) ? Bearer.OK : Bearer.FAILED;
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
}
