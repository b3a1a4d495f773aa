package io.mailproxy.daemon.demo;

import java.io.OutputStream;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A throw-away certificate for the demo's upstream: self-signed, valid for {@code localhost} and {@code 127.0.0.1},
 * so the proxy verifies chain and hostname against it exactly as it would against Office 365 (it is the ca-file).
 */
record DemoCertificate(Path keystore, String keystorePassword, Path certificatePem, String masterKey) {

    static DemoCertificate mint(Path dir) throws Exception {
        SecureRandom random = new SecureRandom();
        KeyPairGenerator gen = KeyPairGenerator.getInstance("EC");
        gen.initialize(new ECGenParameterSpec("secp256r1"), random);
        KeyPair keys = gen.generateKeyPair();
        X500Name name = new X500Name("CN=mailproxy demo upstream");
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(name, new BigInteger(64, random),
                Date.from(now.minus(Duration.ofMinutes(5))), Date.from(now.plus(Duration.ofDays(2))), name,
                keys.getPublic());
        builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
            new GeneralName(GeneralName.dNSName, "localhost"),
            new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
        }));
        builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        X509Certificate cert = new JcaX509CertificateConverter()
                .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withECDSA").build(keys.getPrivate())));

        byte[] pw = new byte[12];
        random.nextBytes(pw);
        String password = Base64.getUrlEncoder().withoutPadding().encodeToString(pw);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("greenmail", keys.getPrivate(), password.toCharArray(), new X509Certificate[] {cert});
        Path keystore = dir.resolve("upstream.p12");
        try (OutputStream out = Files.newOutputStream(keystore)) {
            ks.store(out, password.toCharArray());
        }
        Path pem = dir.resolve("upstream-ca.pem");
        try (Writer w = Files.newBufferedWriter(pem); JcaPEMWriter pw2 = new JcaPEMWriter(w)) {
            pw2.writeObject(cert);
        }
        byte[] master = new byte[32];
        random.nextBytes(master);
        return new DemoCertificate(keystore, password, pem, Base64.getEncoder().encodeToString(master));
    }
}
