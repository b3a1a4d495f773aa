package io.mailproxy.testkit;

import static io.mailproxy.testkit.Office365.POP3_AUTH_FAILED;
import static io.mailproxy.testkit.Office365.POP3_GREETING;

import io.mailproxy.testkit.Office365Tenant.Bearer;
import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Exchange;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * POP3 as Office 365 answers it on outlook.office365.com:995: CAPA, AUTH XOAUTH2 and PLAIN, USER/PASS, an empty
 * maildrop, and {@link Office365#POP3_AUTH_FAILED} for any refused login (shared mailboxes without FullAccess
 * included, see {@link Office365Tenant}).
 */
final class Office365Pop3 extends Office365Script {

    Office365Pop3(ScriptedUpstream.Builder builder, Security security, Office365Tenant tenant) {
        super(builder, security, tenant);
    }

    @Override
    void install() {
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
            if (user != null && tenant.checkSecret(user.toString(), ex.args())) {
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
                ? tenant.bearer(Dialect.POP3, userSecret[0], userSecret[1]) == Bearer.OK
                : tenant.checkSecret(userSecret[0], userSecret[1]));
        if (ok) {
            ex.state().put("user", userSecret[0]);
            ex.reply("+OK User successfully authenticated.");
        } else {
            ex.reply(POP3_AUTH_FAILED);
        }
    }
}
