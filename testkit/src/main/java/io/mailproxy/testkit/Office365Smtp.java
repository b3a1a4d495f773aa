package io.mailproxy.testkit;

import static io.mailproxy.testkit.Office365.SEND_AS_DENIED;
import static io.mailproxy.testkit.Office365.SMTP_AUTH_FAILED;
import static io.mailproxy.testkit.Office365.SMTP_GREETING;
import static io.mailproxy.testkit.Office365.SMTP_HOST;
import static io.mailproxy.testkit.Office365.XOAUTH2_ERROR_JSON;

import io.mailproxy.testkit.Office365.Submission;
import io.mailproxy.testkit.Office365Tenant.Bearer;
import io.mailproxy.testkit.ScriptedUpstream.Dialect;
import io.mailproxy.testkit.ScriptedUpstream.Exchange;
import io.mailproxy.testkit.ScriptedUpstream.Security;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * SMTP submission as Office 365 answers it on smtp.office365.com:587: EHLO offers STARTTLS before TLS and
 * {@code AUTH LOGIN XOAUTH2} after, a failed login gets {@link Office365#SMTP_AUTH_FAILED}, MAIL needs a login, and
 * the end of DATA refuses a sender the login may not send as ({@link Office365#SEND_AS_DENIED}).
 */
final class Office365Smtp extends Office365Script {

    private static final List<String> SMTP_EXTENSIONS_TAIL = List.of("8BITMIME", "BINARYMIME", "CHUNKING", "SMTPUTF8");

    Office365Smtp(ScriptedUpstream.Builder builder, Security security, Office365Tenant tenant) {
        super(builder, security, tenant);
    }

    @Override
    void install() {
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
                            if (tenant.checkSecret(user, decode(p.line()))) {
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
                    String denied = tenant.sendAsDenied(user, mailFrom, body.toString());
                    if (denied != null) {
                        d.reply(String.format(SEND_AS_DENIED, user, denied));
                        return;
                    }
                    int accepted = tenant.accept(new Submission(user, mailFrom, body.toString()));
                    d.reply("250 2.0.0 OK <" + accepted + "@" + SMTP_HOST + "> [Hostname=" + SMTP_HOST + "]");
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
        if (userToken != null && tenant.bearer(Dialect.SMTP, userToken[0], userToken[1]) == Bearer.OK) {
            ex.state().put("user", userToken[0]);
            ex.reply("235 2.7.0 Authentication successful");
        } else if (errorChallenge) {
            ex.reply("334 " + encode(XOAUTH2_ERROR_JSON));
            ex.expectContinuation(c -> c.reply(SMTP_AUTH_FAILED));
        } else {
            ex.reply(SMTP_AUTH_FAILED);
        }
    }

    private static String[] multiline(String code, List<String> lines) {
        String[] out = new String[lines.size()];
        for (int i = 0; i < lines.size(); i++) {
            out[i] = code + (i == lines.size() - 1 ? " " : "-") + lines.get(i);
        }
        return out;
    }
}
