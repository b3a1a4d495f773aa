package io.mailproxy.testkit;

import com.icegreen.greenmail.base.GreenMailOperations;
import com.icegreen.greenmail.user.GreenMailUser;
import com.icegreen.greenmail.user.UserImpl;
import com.icegreen.greenmail.util.DummySSLServerSocketFactory;
import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import com.icegreen.greenmail.junit5.GreenMailExtension;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.util.Collections;

/**
 * GreenMail as a TLS upstream: IMAPS, POP3S and SMTPS on dynamic loopback ports, presenting a certificate from
 * {@link TestCertificates#shared()} (for localhost, 127.0.0.1 and ::1), so a client that verifies chain and hostname
 * connects with the shared CA's PEM ({@link #caPem()}) as its extra trust anchor.
 *
 * <p>GreenMail reads its keystore once per JVM, from system properties: {@link #installKeystore()} (called by
 * {@link #start()}) sets them, unless a test set them already. Every test in a JVM that starts GreenMail with TLS
 * should go through this class, or the first one to start GreenMail decides the certificate for all.
 *
 * <p>Users log in with their email address (GreenMail's XOAUTH2 checks {@code user=} against the login).
 */
public final class GreenMailUpstream implements AutoCloseable {

    private final GreenMail greenMail;

    private GreenMailUpstream(GreenMail greenMail) {
        this.greenMail = greenMail;
    }

    /** Starts IMAPS, POP3S and SMTPS on 127.0.0.1, each on a free port. */
    public static GreenMailUpstream start() {
        installKeystore();
        GreenMail gm = new GreenMail(setups());
        gm.start();
        return new GreenMailUpstream(gm);
    }

    /**
     * Points GreenMail's {@code greenmail.tls.keystore.*} properties at the shared CA's server keystore, once, and
     * checks that GreenMail really serves that certificate: if something in this JVM started GreenMail before,
     * with its self-signed default, this fails with a message saying so instead of a puzzling TLS error later.
     */
    public static synchronized void installKeystore() {
        if (System.getProperty(DummySSLServerSocketFactory.GREENMAIL_KEYSTORE_FILE_PROPERTY) == null) {
            Path p12 = TestCertificates.shared().server().pkcs12();
            System.setProperty(DummySSLServerSocketFactory.GREENMAIL_KEYSTORE_PASSWORD_PROPERTY, TestCertificates.KEYSTORE_PASSWORD);
            System.setProperty(DummySSLServerSocketFactory.GREENMAIL_KEY_PASSWORD_PROPERTY, TestCertificates.KEYSTORE_PASSWORD);
            System.setProperty(DummySSLServerSocketFactory.GREENMAIL_KEYSTORE_FILE_PROPERTY, p12.toString());
        }
        try {
            KeyStore ks = ((DummySSLServerSocketFactory) DummySSLServerSocketFactory.getDefault()).getKeyStore();
            boolean ours = false;
            for (String alias : Collections.list(ks.aliases())) {
                ours |= TestCertificates.shared().server().certificate().equals(ks.getCertificate(alias));
            }
            if (!ours) {
                throw new IllegalStateException("GreenMail already loaded another TLS keystore in this JVM "
                        + "(greenmail.tls.keystore.file=" + System.getProperty(DummySSLServerSocketFactory.GREENMAIL_KEYSTORE_FILE_PROPERTY)
                        + "): start GreenMail through GreenMailUpstream, or call installKeystore() first");
            }
        } catch (KeyStoreException e) {
            throw new IllegalStateException("cannot read GreenMail's keystore", e);
        }
    }

    /**
     * A JUnit 5 extension (register with {@code @RegisterExtension static}) serving IMAPS, POP3S and SMTPS on
     * dynamic loopback ports with the shared CA's certificate; the keystore is installed first.
     */
    public static GreenMailExtension extension() {
        installKeystore();
        return new GreenMailExtension(setups());
    }

    private static ServerSetup[] setups() {
        return new ServerSetup[] {
                new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_IMAPS).dynamicPort(),
                new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_POP3S).dynamicPort(),
                new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTPS).dynamicPort()};
    }

    /** The CA that issued GreenMail's certificate, as PEM: an upstream's {@code ca-file}. */
    public Path caPem() {
        return TestCertificates.shared().caPem();
    }

    public GreenMail greenMail() {
        return greenMail;
    }

    public String host() {
        return "127.0.0.1";
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

    /** A user whose login is {@code email} and who logs in with XOAUTH2 and exactly this token (password login off). */
    public GreenMailUser oauthUser(String email, String token) {
        return oauthUser(greenMail, email, token);
    }

    /** The same for a GreenMail started elsewhere (e.g. by {@link #extension()}). */
    public static GreenMailUser oauthUser(GreenMailOperations greenMail, String email, String token) {
        GreenMailUser user = greenMail.setUser(email, email, "unused-" + System.nanoTime());
        ((UserImpl) user).setTokenValidator(token::equals);
        return user;
    }

    /** A user whose login is {@code email} and who logs in with this password (and XOAUTH2 with it as the token). */
    public GreenMailUser passwordUser(String email, String password) {
        return greenMail.setUser(email, email, password);
    }

    @Override
    public void close() {
        greenMail.stop();
    }
}
