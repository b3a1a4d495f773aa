package io.mailproxy.interop;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;

/** One login through the proxy per protocol, returning the reply that decides it: for the fault checks. */
final class Logins {

    private Logins() {
    }

    /** The lines up to the tagged reply to {@code a LOGIN}. */
    static String imap(Proxy proxy, String client) throws IOException {
        try (Wire w = Wire.proxy(proxy.imapPort())) {
            assertThat(w.line()).startsWith("* OK");
            w.send("a LOGIN " + client + " " + Proxy.secret(client));
            return w.until("a ");
        }
    }

    /** The reply to PASS. */
    static String pop3(Proxy proxy, String client) throws IOException {
        try (Wire w = Wire.proxy(proxy.pop3Port())) {
            assertThat(w.line()).startsWith("+OK");
            w.send("USER " + client);
            assertThat(w.line()).startsWith("+OK");
            w.send("PASS " + Proxy.secret(client));
            return w.line();
        }
    }

    /**
     * The reply that refuses an SMTP session: to AUTH, or else to MAIL FROM (where the proxy first needs the
     * upstream).
     */
    static String smtpMail(Proxy proxy, String client, String from) throws IOException {
        try (Wire w = Wire.proxy(proxy.smtpPort())) {
            assertThat(w.line()).startsWith("220");
            w.send("EHLO client.test");
            assertThat(w.smtpReply()).startsWith("250 ");
            w.send("AUTH PLAIN " + Wire.plain(client, Proxy.secret(client)));
            String auth = w.smtpReply();
            if (!auth.startsWith("235")) {
                return auth;
            }
            w.send("MAIL FROM:<" + from + ">");
            return w.smtpReply();
        }
    }
}
