package io.mailproxy.testkit;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A self-signed client certificate for private_key_jwt, as an Entra ID app registration holds one: register
 * {@link #certificate()} with {@link FakeIdentityPlatform#registerCertificateClient}, give the client the PEM files
 * from {@link #writePem(Path)}.
 */
public record FakeIdentityPlatformClientCertificate(X509Certificate certificate, PrivateKey privateKey) {

    /** A 2048-bit RSA key and a certificate valid for a day around now. */
    public static FakeIdentityPlatformClientCertificate generate(String subject) {
        try {
            KeyPairGenerator gen = KeyPairGenerator.getInstance("RSA");
            gen.initialize(2048);
            KeyPair pair = gen.generateKeyPair();
            Instant now = Instant.now();
            X500Name name = new X500Name("CN=" + subject);
            var builder = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(now.toEpochMilli()),
                    Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(Duration.ofDays(365))), name,
                    pair.getPublic());
            var signer = new JcaContentSignerBuilder("SHA256withRSA").build(pair.getPrivate());
            X509Certificate cert = new JcaX509CertificateConverter().getCertificate(builder.build(signer));
            return new FakeIdentityPlatformClientCertificate(cert, pair.getPrivate());
        } catch (GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes {@code client.crt} and {@code client.key} (PKCS#8) into {@code dir}; returns {cert, key}. */
    public Path[] writePem(Path dir) throws IOException {
        Path crt = dir.resolve("client.crt");
        Path key = dir.resolve("client.key");
        Files.writeString(crt, pem(certificate));
        Files.writeString(key, pem(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(privateKey, null)));
        return new Path[] {crt, key};
    }

    private static String pem(Object o) throws IOException {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            if (o instanceof org.bouncycastle.util.io.pem.PemObjectGenerator generator) {
                w.writeObject(generator);
            } else {
                w.writeObject(o);
            }
        }
        return out.toString();
    }

    @Override
    public String toString() {
        return "FakeIdentityPlatformClientCertificate[" + certificate.getSubjectX500Principal() + "]";
    }
}
