package io.mailproxy.daemon.demo;

import com.icegreen.greenmail.user.GreenMailUser;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.nio.file.Path;
import java.util.Date;
import java.util.Properties;

/**
 * GreenMail serving IMAPS, POP3S and SMTPS on loopback with a certificate the demo minted (GreenMail's own has no
 * subject alternative name, so a verifying client such as mailproxy would rightly refuse it).
 */
public final class DemoUpstream implements AutoCloseable {

    public static final String MAILBOX = "demo@mailproxy.test";
    public static final String PASSWORD = "demo-upstream-password";

    private final GreenMail greenMail;

    private DemoUpstream(GreenMail greenMail) {
        this.greenMail = greenMail;
    }

    /** @param keystore PKCS12 holding the server key and certificate; read once per JVM by GreenMail */
    public static DemoUpstream start(Path keystore, String keystorePassword) throws Exception {
        System.setProperty("greenmail.tls.keystore.file", keystore.toString());
        System.setProperty("greenmail.tls.keystore.password", keystorePassword);
        System.setProperty("greenmail.tls.key.password", keystorePassword);
        ServerSetup[] setups = {
            ServerSetup.IMAPS.dynamicPort().createCopy("127.0.0.1"),
            ServerSetup.POP3S.dynamicPort().createCopy("127.0.0.1"),
            ServerSetup.SMTPS.dynamicPort().createCopy("127.0.0.1"),
        };
        GreenMail gm = new GreenMail(setups);
        gm.start();
        GreenMailUser user = gm.setUser(MAILBOX, MAILBOX, PASSWORD);
        Session session = Session.getInstance(new Properties());
        String[][] samples = {
            {"Welcome to the mailproxy demo", "This message sits in a TLS upstream; you read it over plaintext IMAP or POP3\r\n"
                    + "on localhost, and mailproxy logged in upstream for you.\r\n"},
            {"Invoice 4711 (a scanner would send this)", "Amount due: 123.45 EUR\r\n.a line that starts with a dot\r\n"},
            {"Grüße aus dem Demo-Postfach", "Non-ASCII subject, encoded as RFC 2047 by Jakarta Mail.\r\n"},
        };
        for (String[] s : samples) {
            MimeMessage m = new MimeMessage(session);
            m.setFrom(new InternetAddress("reports@mailproxy.test", "Reports"));
            m.setRecipient(Message.RecipientType.TO, new InternetAddress(MAILBOX));
            m.setSubject(s[0], "UTF-8");
            m.setSentDate(new Date());
            m.setText(s[1], "UTF-8");
            user.deliver(m);
        }
        return new DemoUpstream(gm);
    }

    public int imapsPort() {
        return greenMail.getImaps().getPort();
    }

    public int pop3sPort() {
        return greenMail.getPop3s().getPort();
    }

    public int smtpsPort() {
        return greenMail.getSmtps().getPort();
    }

    public int messageCount() {
        return greenMail.getReceivedMessages().length;
    }

    @Override
    public void close() {
        greenMail.stop();
    }
}
