package io.mailproxy.bench;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.Base64;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * What every benchmark shares: a scratch directory, the identity provider, the submission relay sink, Dovecot with
 * {@link #ACCOUNTS} users ({@code u01@bench.test}...), the first holding {@link #MESSAGES} messages of
 * {@link #MESSAGE_SIZE} octets, and the JDK TLS context the direct clients use (trusting Dovecot's certificate).
 */
final class Env implements AutoCloseable {

    static final int ACCOUNTS = 20;
    static final int MESSAGES = 30;
    static final int MESSAGE_SIZE = 1024 * 1024;
    static final String CLIENT_PASSWORD = "bench-password";

    final Path scratch;
    final TokenServer idp;
    final SmtpSink sink;
    final Dovecot dovecot;
    final SSLContext tls;

    private Env(Path scratch, TokenServer idp, SmtpSink sink, Dovecot dovecot, SSLContext tls) {
        this.scratch = scratch;
        this.idp = idp;
        this.sink = sink;
        this.dovecot = dovecot;
        this.tls = tls;
    }

    static Env start(Path scratch) throws Exception {
        Files.createDirectories(scratch);
        // Dovecot's mail processes (uid mail) and login processes must traverse the scratch tree
        Files.setPosixFilePermissions(scratch, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        TokenServer idp = new TokenServer();
        SmtpSink sink = new SmtpSink();
        Dovecot dovecot = new Dovecot(scratch.resolve("dovecot"), idp.introspectionUrl(), sink.port());
        for (int i = 1; i <= ACCOUNTS; i++) {
            dovecot.addMessages(user(i), i == 1 ? MESSAGES : 0, MESSAGE_SIZE);
        }
        dovecot.start();
        SSLContext tls = SSLContext.getInstance("TLSv1.3");
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        try (InputStream in = Files.newInputStream(dovecot.certFile)) {
            trust.setCertificateEntry("dovecot", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        tls.init(null, tmf.getTrustManagers(), null);
        return new Env(scratch, idp, sink, dovecot, tls);
    }

    static String user(int i) {
        return String.format("u%02d@bench.test", i);
    }

    /** The local login name of account i's client: pop3 source = pop3 (and IMAP, SMTP). */
    static String client(int i) {
        return String.format("app%02d", i);
    }

    /** The local login name of account i's POP3-over-IMAP client. */
    static String imapSourceClient(int i) {
        return String.format("app%02di", i);
    }

    InetSocketAddress imaps() {
        return new InetSocketAddress(Dovecot.HOST, dovecot.imaps);
    }

    InetSocketAddress pop3s() {
        return new InetSocketAddress(Dovecot.HOST, dovecot.pop3s);
    }

    InetSocketAddress submission() {
        return new InetSocketAddress(Dovecot.HOST, dovecot.submission);
    }

    /** The SASL XOAUTH2 initial response for {@code user}, with a token minted for it. */
    String xoauth2(String user) {
        String s = "user=" + user + "\u0001auth=Bearer " + idp.mint(user) + "\u0001\u0001";
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    static String plain(String user, String password) {
        return Base64.getEncoder().encodeToString(("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void close() throws IOException {
        dovecot.close();
        sink.close();
        idp.close();
    }
}
