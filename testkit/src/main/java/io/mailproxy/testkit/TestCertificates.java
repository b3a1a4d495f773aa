package io.mailproxy.testkit;

import java.io.IOException;
import java.io.OutputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away test CA and server certificates minted with Bouncy Castle (EC P-256, valid from an hour ago for a
 * week), written as PEM files (for {@code ca-file} and local TLS listeners) and PKCS12 keystores (for GreenMail's
 * {@code greenmail.tls.keystore.*} properties).
 *
 * <p>{@link #shared()} is one instance per JVM, for anything that can be configured only once per JVM (GreenMail's
 * keystore); {@link #create()} makes an independent CA.
 */
public final class TestCertificates {

    /** The password of every PKCS12 keystore and key written here. */
    public static final String KEYSTORE_PASSWORD = "changeit";

    private static final AtomicLong SERIAL = new AtomicLong(System.currentTimeMillis());
    private static volatile TestCertificates shared;

    private final Path dir;
    private final KeyPair caKeys;
    private final X509Certificate caCert;
    private final Path caPem;
    private volatile ServerCert defaultServer;

    /**
     * A server key and certificate.
     *
     * @param chain     the certificate first, then its issuer (just the certificate when self-signed)
     * @param certPem   PEM of the chain
     * @param keyPem    PEM of the private key (PKCS#8)
     * @param pkcs12    a PKCS12 keystore holding the key and chain, alias {@code server}, password
     *                  {@link #KEYSTORE_PASSWORD}
     */
    public record ServerCert(PrivateKey key, List<X509Certificate> chain, Path certPem, Path keyPem, Path pkcs12) {
        public ServerCert {
            chain = List.copyOf(chain);
        }

        public X509Certificate certificate() {
            return chain.get(0);
        }

        /** A JDK server context presenting this certificate. */
        public SSLContext serverSslContext() {
            try {
                KeyStore ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                ks.setKeyEntry("server", key, KEYSTORE_PASSWORD.toCharArray(), chain.toArray(new X509Certificate[0]));
                KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, KEYSTORE_PASSWORD.toCharArray());
                SSLContext ctx = SSLContext.getInstance("TLS");
                ctx.init(kmf.getKeyManagers(), null, new SecureRandom());
                return ctx;
            } catch (GeneralSecurityException | IOException e) {
                throw new IllegalStateException("cannot build a server SSLContext", e);
            }
        }
    }

    private TestCertificates(Path dir) {
        this.dir = dir;
        try {
            this.caKeys = newKeyPair();
            X500Name caName = new X500Name("CN=mailproxy test CA " + SERIAL.get());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = builder(caName, caName, caKeys)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
                    .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(caKeys.getPublic()));
            this.caCert = sign(b, caKeys.getPrivate());
            this.caPem = dir.resolve("ca.pem");
            Files.writeString(caPem, pem(caCert));
        } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
            throw new IllegalStateException("cannot mint the test CA", e);
        }
    }

    /** A new CA whose files live in a fresh temporary directory (deleted when the JVM exits). */
    public static TestCertificates create() {
        try {
            Path dir = Files.createTempDirectory("mailproxy-certs");
            dir.toFile().deleteOnExit();
            return new TestCertificates(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One CA per JVM (GreenMail's keystore can be set only once per JVM, so everything shares this one). */
    public static TestCertificates shared() {
        TestCertificates s = shared;
        if (s == null) {
            synchronized (TestCertificates.class) {
                s = shared;
                if (s == null) {
                    s = create();
                    shared = s;
                }
            }
        }
        return s;
    }

    public Path directory() {
        return dir;
    }

    public X509Certificate caCertificate() {
        return caCert;
    }

    /** The CA certificate as a PEM file: what an upstream's {@code ca-file} points to. */
    public Path caPem() {
        return caPem;
    }

    /** The server certificate for {@code localhost}, {@code 127.0.0.1} and {@code ::1}, made once. */
    public ServerCert server() {
        ServerCert s = defaultServer;
        if (s == null) {
            synchronized (this) {
                s = defaultServer;
                if (s == null) {
                    s = server("localhost", "127.0.0.1", "::1");
                    defaultServer = s;
                }
            }
        }
        return s;
    }

    /** A server certificate from this CA whose subjectAltNames are {@code names} (DNS names or IP literals). */
    public ServerCert server(String... names) {
        return mint(names, false);
    }

    /** A certificate from this CA for a host that is not the one connected to ({@code wrong.example.invalid}). */
    public ServerCert wrongHost() {
        return server("wrong.example.invalid");
    }

    /** A self-signed certificate for localhost and 127.0.0.1, from no CA anyone trusts. */
    public ServerCert selfSigned() {
        return mint(new String[] {"localhost", "127.0.0.1", "::1"}, true);
    }

    /** A trust manager that trusts exactly this CA. */
    public X509TrustManager trustManager() {
        try {
            KeyStore ts = KeyStore.getInstance("PKCS12");
            ts.load(null, null);
            ts.setCertificateEntry("ca", caCert);
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(ts);
            for (TrustManager tm : tmf.getTrustManagers()) {
                if (tm instanceof X509TrustManager x) {
                    return x;
                }
            }
            throw new IllegalStateException("no X509TrustManager");
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a trust manager", e);
        }
    }

    /** A JDK client context trusting exactly this CA (hostname checking is up to the client, as usual). */
    public SSLContext clientSslContext() {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {trustManager()}, new SecureRandom());
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot build a client SSLContext", e);
        }
    }

    private ServerCert mint(String[] names, boolean selfSigned) {
        try {
            KeyPair keys = newKeyPair();
            String cn = names.length == 0 ? "server" : names[0];
            X500Name subject = new X500Name("CN=" + cn);
            List<GeneralName> sans = new ArrayList<>();
            for (String n : names) {
                sans.add(isIpLiteral(n) ? new GeneralName(GeneralName.iPAddress, n) : new GeneralName(GeneralName.dNSName, n));
            }
            X500Name issuer = selfSigned ? subject : new X500Name(caCert.getSubjectX500Principal().getName());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            X509v3CertificateBuilder b = builder(issuer, subject, keys)
                    .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                    .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
                    .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                    .addExtension(Extension.subjectAlternativeName, false,
                            new GeneralNames(sans.toArray(new GeneralName[0])));
            if (!selfSigned) {
                b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(caCert));
            }
            X509Certificate cert = sign(b, selfSigned ? keys.getPrivate() : caKeys.getPrivate());
            List<X509Certificate> chain = selfSigned ? List.of(cert) : List.of(cert, caCert);
            String base = (selfSigned ? "self-signed-" : "server-") + SERIAL.incrementAndGet();
            Path certPem = dir.resolve(base + ".crt");
            Path keyPem = dir.resolve(base + ".key");
            Path p12 = dir.resolve(base + ".p12");
            StringBuilder chainPem = new StringBuilder();
            for (X509Certificate c : chain) {
                chainPem.append(pem(c));
            }
            Files.writeString(certPem, chainPem);
            Files.writeString(keyPem, pem(keys.getPrivate()));
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("server", keys.getPrivate(), KEYSTORE_PASSWORD.toCharArray(), chain.toArray(new X509Certificate[0]));
            try (OutputStream out = Files.newOutputStream(p12)) {
                ks.store(out, KEYSTORE_PASSWORD.toCharArray());
            }
            return new ServerCert(keys.getPrivate(), chain, certPem, keyPem, p12);
        } catch (GeneralSecurityException | IOException | OperatorCreationException e) {
            throw new IllegalStateException("cannot mint a server certificate", e);
        }
    }

    private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, KeyPair keys) {
        Instant now = Instant.now();
        return new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIAL.incrementAndGet()),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(7))), subject,
                keys.getPublic());
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer)
            throws OperatorCreationException, GeneralSecurityException {
        ContentSigner s = new JcaContentSignerBuilder("SHA256withECDSA").build(signer);
        return new JcaX509CertificateConverter().getCertificate(b.build(s));
    }

    private static KeyPair newKeyPair() throws GeneralSecurityException {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(new ECGenParameterSpec("secp256r1"));
        return g.generateKeyPair();
    }

    private static boolean isIpLiteral(String name) {
        if (name.contains(":")) {
            return true;
        }
        if (!name.matches("[0-9.]+")) {
            return false;
        }
        try {
            InetAddress.getByName(name);
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static String pem(Object o) throws IOException {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            if (o instanceof PrivateKey k) {
                w.writeObject(new JcaPKCS8Generator(k, null)); // "BEGIN PRIVATE KEY", what Netty and OpenSSL read
            } else {
                w.writeObject(o);
            }
        }
        return sw.toString();
    }
}
