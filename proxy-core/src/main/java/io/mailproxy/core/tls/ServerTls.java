package io.mailproxy.core.tls;

import io.mailproxy.core.config.ListenerTls;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.OutputStream;
import java.io.Reader;
import java.io.Writer;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;

/**
 * Server-side TLS for local listeners: an {@link SslContext} from a PEM certificate chain and private key (PKCS#1,
 * PKCS#8 or SEC1 EC), TLS 1.2 and 1.3 only, on OpenSSL (BoringSSL) when available, else the JDK. Also mints
 * self-signed certificates with a proper subjectAltName for the demo and for tests.
 */
public final class ServerTls {

    /** TLS 1.2 (RFC 5246) and 1.3 (RFC 8446); nothing older. */
    public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    private static final List<String> DEFAULT_NAMES = List.of("localhost", "127.0.0.1", "::1");

    private ServerTls() { }

    /** The provider used: OpenSSL (BoringSSL, netty-tcnative) when it loads, else the JDK's. */
    public static SslProvider provider() {
        return OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK;
    }

    /**
     * A server context for a listener's {@code tls} block.
     *
     * @throws IllegalArgumentException naming the file and what is wrong with it
     */
    public static SslContext forListener(ListenerTls tls) {
        return context(tls.certFile(), tls.keyFile());
    }

    /**
     * A server context from PEM files. The files are read on every call, so a reload picks up renewed certificates.
     *
     * @param certFile the certificate chain, leaf first
     * @param keyFile  the leaf's private key, unencrypted: PKCS#8 ("PRIVATE KEY"), PKCS#1 ("RSA PRIVATE KEY") or
     *                 SEC1 ("EC PRIVATE KEY")
     * @throws IllegalArgumentException naming the file and what is wrong with it
     */
    public static SslContext context(Path certFile, Path keyFile) {
        List<X509Certificate> chain = readCertificates(certFile);
        PrivateKey key = readPrivateKey(keyFile);
        checkKeyMatches(key, chain.get(0), certFile, keyFile);
        try {
            return SslContextBuilder.forServer(key, chain)
                    .sslProvider(provider())
                    .protocols(PROTOCOLS)
                    .build();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("cannot use certificate " + certFile + " with key " + keyFile + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Reads a PEM certificate chain.
     *
     * @throws IllegalArgumentException naming the file when it cannot be read or holds no certificate
     */
    public static List<X509Certificate> readCertificates(Path file) {
        List<X509Certificate> chain = new ArrayList<>();
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
             PEMParser parser = new PEMParser(reader)) {
            for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
                if (o instanceof X509CertificateHolder holder) {
                    chain.add(converter.getCertificate(holder));
                }
            }
        } catch (IOException | GeneralSecurityException | RuntimeException e) {
            throw unreadable("certificate file", file, e);
        }
        if (chain.isEmpty()) {
            throw new IllegalArgumentException("certificate file " + file
                    + " holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)");
        }
        return chain;
    }

    /**
     * Reads an unencrypted PEM private key: PKCS#8, PKCS#1 RSA or SEC1 EC.
     *
     * @throws IllegalArgumentException naming the file when it cannot be read, is encrypted or holds no key
     */
    public static PrivateKey readPrivateKey(Path file) {
        JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
        try (Reader reader = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
             PEMParser parser = new PEMParser(reader)) {
            for (Object o = parser.readObject(); o != null; o = parser.readObject()) {
                if (o instanceof PEMKeyPair pair) {            // PKCS#1 RSA, SEC1 EC (the public part is optional)
                    return converter.getPrivateKey(pair.getPrivateKeyInfo());
                }
                if (o instanceof PrivateKeyInfo info) {        // PKCS#8
                    return converter.getPrivateKey(info);
                }
                if (o instanceof PKCS8EncryptedPrivateKeyInfo || o instanceof PEMEncryptedKeyPair) {
                    throw new IllegalArgumentException("private key file " + file + " is encrypted; store it"
                            + " unencrypted with mode 0600 (openssl pkey -in KEY -out " + file.getFileName() + ")");
                }
                // EC PARAMETERS blocks and anything else before the key are skipped
            }
        } catch (IllegalArgumentException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw unreadable("private key file", file, e);
        }
        throw new IllegalArgumentException("private key file " + file + " holds no PEM private key (expected"
                + " -----BEGIN PRIVATE KEY-----, -----BEGIN RSA PRIVATE KEY----- or -----BEGIN EC PRIVATE KEY-----)");
    }

    private static IllegalArgumentException unreadable(String what, Path file, Exception e) {
        String reason;
        if (e instanceof NoSuchFileException) {
            reason = "no such file";
        } else if (e instanceof java.nio.file.AccessDeniedException) {
            reason = "permission denied";
        } else {
            reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        }
        return new IllegalArgumentException("cannot read " + what + " " + file + ": " + reason, e);
    }

    /** A signature made with the key must verify with the certificate: catches a mismatched pair at start-up. */
    private static void checkKeyMatches(PrivateKey key, X509Certificate leaf, Path certFile, Path keyFile) {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC", "ECDSA" -> "SHA256withECDSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> null;
        };
        if (algorithm == null) {
            return;     // let the TLS provider judge keys of other types
        }
        PublicKey publicKey = leaf.getPublicKey();
        try {
            byte[] probe = "mailproxy key check".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(publicKey);
            verifier.update(probe);
            if (verifier.verify(signature)) {
                return;
            }
        } catch (GeneralSecurityException e) {
            // a key of another type than the certificate's: fall through
        }
        throw new IllegalArgumentException("private key " + keyFile + " does not belong to the first certificate in "
                + certFile + " (" + leaf.getSubjectX500Principal().getName() + ")");
    }

    /**
     * Mints a self-signed RSA certificate valid for two years, and writes {@code tls.crt} and {@code tls.key}
     * (PKCS#8, mode 0600 where the file system supports it) into {@code dir}.
     *
     * @param names subjectAltNames: host names become DNS names, IP literals IP addresses; none means
     *              {@code localhost}, {@code 127.0.0.1} and {@code ::1}. The first is also the subject's CN.
     */
    public static SelfSigned selfSigned(Path dir, String... names) {
        return selfSigned(dir, Clock.systemUTC(), names);
    }

    /** As {@link #selfSigned(Path, String...)}, with the clock that sets the validity period. */
    public static SelfSigned selfSigned(Path dir, Clock clock, String... names) {
        List<String> sans = names.length == 0 ? DEFAULT_NAMES : List.of(names);
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048, new SecureRandom());
            KeyPair keys = generator.generateKeyPair();
            X509Certificate certificate = certificate(keys, sans, clock.instant());
            Files.createDirectories(dir);
            Path certFile = dir.resolve("tls.crt");
            Path keyFile = dir.resolve("tls.key");
            writePem(certFile, certificate, false);
            writePem(keyFile, new JcaPKCS8Generator(keys.getPrivate(), null), true);
            return new SelfSigned(certFile, keyFile, certificate, keys.getPrivate());
        } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot create a self-signed certificate in " + dir + ": "
                    + e.getMessage(), e);
        }
    }

    private static X509Certificate certificate(KeyPair keys, List<String> sans, Instant now)
            throws GeneralSecurityException, OperatorCreationException, IOException {
        X500Principal subject = new X500Principal("CN=" + sans.get(0).replaceAll("[,+=\"\\\\<>;#]", "_")
                + ", O=mailproxy self-signed");
        GeneralName[] altNames = new GeneralName[sans.size()];
        for (int i = 0; i < sans.size(); i++) {
            String name = sans.get(i);
            altNames[i] = isIpLiteral(name)
                    ? new GeneralName(GeneralName.iPAddress, InetAddress.getByName(name).getHostAddress())
                    : new GeneralName(GeneralName.dNSName, name);
        }
        JcaX509ExtensionUtils extensions = new JcaX509ExtensionUtils();
        X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject,
                new BigInteger(127, new SecureRandom()).add(BigInteger.ONE),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(730))),
                subject, keys.getPublic())
                .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(altNames))
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(Extension.keyUsage, true,
                        new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
                .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
                .addExtension(Extension.subjectKeyIdentifier, false,
                        extensions.createSubjectKeyIdentifier(keys.getPublic()));
        X509CertificateHolder holder = builder.build(
                new JcaContentSignerBuilder("SHA256withRSA").build(keys.getPrivate()));
        return new JcaX509CertificateConverter().getCertificate(holder);
    }

    private static boolean isIpLiteral(String name) {
        return name.matches("[0-9.]+") || name.contains(":");
    }

    private static void writePem(Path file, Object object, boolean secret) throws IOException {
        if (secret && FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
            Files.deleteIfExists(file);
            Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        }
        try (Writer writer = Files.newBufferedWriter(file, StandardCharsets.US_ASCII);
             JcaPEMWriter pem = new JcaPEMWriter(writer)) {
            pem.writeObject(object);
        }
    }

    /**
     * A minted certificate and where its PEM files are.
     *
     * @param certFile    {@code tls.crt}
     * @param keyFile     {@code tls.key} (PKCS#8)
     * @param certificate the certificate, for a client's trust store
     */
    public record SelfSigned(Path certFile, Path keyFile, X509Certificate certificate, PrivateKey privateKey) {

        /** The listener setting that serves this certificate. */
        public ListenerTls listenerTls(ListenerTls.Mode mode) {
            return new ListenerTls(mode, certFile, keyFile);
        }

        /** A trust store holding only this certificate (for clients in tests and the demo). */
        public KeyStore trustStore() {
            try {
                KeyStore store = KeyStore.getInstance("PKCS12");
                store.load(null, null);
                store.setCertificateEntry("mailproxy", certificate);
                return store;
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalStateException("cannot build a trust store: " + e.getMessage(), e);
            }
        }

        /** Writes certificate and key as a PKCS#12 key store (GreenMail's {@code greenmail.tls.keystore.file}). */
        public void writePkcs12(Path file, char[] password) {
            try {
                KeyStore store = KeyStore.getInstance("PKCS12");
                store.load(null, null);
                store.setKeyEntry("mailproxy", privateKey, password, new java.security.cert.Certificate[] {certificate});
                try (OutputStream out = Files.newOutputStream(file)) {
                    store.store(out, password);
                }
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalStateException("cannot write " + file + ": " + e.getMessage(), e);
            }
        }

        @Override
        public String toString() {
            return "SelfSigned[" + certFile + ", " + keyFile + "]";
        }
    }
}
