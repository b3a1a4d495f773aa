package io.mailproxy.core.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Date;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;
import javax.security.auth.x500.X500Principal;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PKCS8Generator;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ServerTlsTest {

    @TempDir
    Path dir;

    @Test
    void selfSignedCertificateNamesLocalhostAndBothLoopbackAddresses() throws Exception {
        Instant now = Instant.parse("2026-11-25T20:00:00Z");
        ServerTls.SelfSigned minted = ServerTls.selfSigned(dir.resolve("tls"), Clock.fixed(now, ZoneOffset.UTC));

        assertThat(minted.certFile()).isEqualTo(dir.resolve("tls/tls.crt"));
        assertThat(minted.keyFile()).isEqualTo(dir.resolve("tls/tls.key"));
        assertThat(Files.readString(minted.certFile())).startsWith("-----BEGIN CERTIFICATE-----");
        assertThat(Files.readString(minted.keyFile())).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(minted.keyFile())))
                .isEqualTo("rw-------");

        X509Certificate cert = ServerTls.readCertificates(minted.certFile()).get(0);
        assertThat(cert).isEqualTo(minted.certificate());
        assertThat(cert.getSubjectAlternativeNames()).containsExactlyInAnyOrder(
                List.of(GeneralName.dNSName, "localhost"),
                List.of(GeneralName.iPAddress, "127.0.0.1"),
                List.of(GeneralName.iPAddress, "0:0:0:0:0:0:0:1"));
        assertThat(cert.getSubjectX500Principal().getName()).startsWith("CN=localhost");
        assertThat(cert.getNotAfter().toInstant()).isEqualTo(now.plus(Duration.ofDays(730)));
        assertThat(cert.getBasicConstraints()).isEqualTo(-1);
        assertThat(cert.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
        cert.verify(cert.getPublicKey());
    }

    @Test
    void selfSignedTakesTheNamesItIsGiven() throws Exception {
        ServerTls.SelfSigned minted = ServerTls.selfSigned(dir, "mail.example.test", "192.0.2.7");
        assertThat(minted.certificate().getSubjectAlternativeNames()).containsExactlyInAnyOrder(
                List.of(GeneralName.dNSName, "mail.example.test"),
                List.of(GeneralName.iPAddress, "192.0.2.7"));
    }

    @Test
    void aMintedCertificateServesTls13AndTls12ToAClientThatChecksTheHostName() throws Exception {
        ServerTls.SelfSigned minted = ServerTls.selfSigned(dir);
        SslContext context = ServerTls.context(minted.certFile(), minted.keyFile());

        assertThat(handshake(context, minted.certificate(), "localhost", null)).isEqualTo("TLSv1.3");
        assertThat(handshake(context, minted.certificate(), "localhost", "TLSv1.2")).isEqualTo("TLSv1.2");
        assertThatThrownBy(() -> handshake(context, minted.certificate(), "mail.example.test", null))
                .isInstanceOf(SSLHandshakeException.class);
    }

    @Test
    void onlyTls12AndNewerAreEnabled() throws Exception {
        ServerTls.SelfSigned minted = ServerTls.selfSigned(dir);
        SSLEngine engine = ServerTls.forListener(minted.listenerTls(io.mailproxy.core.config.ListenerTls.Mode.IMPLICIT))
                .newEngine(ByteBufAllocator.DEFAULT);
        try {
            // OpenSSL's engine also lists "SSLv2Hello": the old ClientHello format, not a protocol version
            assertThat(engine.getEnabledProtocols()).filteredOn(p -> !p.equals("SSLv2Hello"))
                    .containsExactlyInAnyOrder("TLSv1.2", "TLSv1.3");
            assertThat(engine.getUseClientMode()).isFalse();
        } finally {
            ReferenceCountUtil.release(engine);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"rsa-pkcs1", "rsa-pkcs8", "ec-sec1", "ec-pkcs8"})
    void readsRsaAndEcKeysInPkcs1Pkcs8AndSec1Form(String form) throws Exception {
        boolean ec = form.startsWith("ec");
        KeyPair keys = keyPair(ec);
        X509Certificate cert = certificate(keys, ec);
        Path certFile = write("cert.pem", cert);
        Path keyFile = form.endsWith("pkcs8")
                ? write("key.pem", new JcaPKCS8Generator(keys.getPrivate(), null))
                : write("key.pem", keys.getPrivate());     // BC writes RSA as PKCS#1, EC as SEC1
        assertThat(Files.readString(keyFile)).startsWith(switch (form) {
            case "rsa-pkcs1" -> "-----BEGIN RSA PRIVATE KEY-----";
            case "ec-sec1" -> "-----BEGIN EC PRIVATE KEY-----";
            default -> "-----BEGIN PRIVATE KEY-----";
        });

        assertThat(ServerTls.readPrivateKey(keyFile).getAlgorithm()).isEqualTo(ec ? "EC" : "RSA");
        assertThat(handshake(ServerTls.context(certFile, keyFile), cert, "localhost", null)).isEqualTo("TLSv1.3");
    }

    @Test
    void aMissingFileIsNamed() {
        Path missing = dir.resolve("nope.crt");
        assertThatThrownBy(() -> ServerTls.context(missing, dir.resolve("nope.key")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("cannot read certificate file " + missing + ": no such file");
    }

    @Test
    void aFileWithoutCertificateOrKeyIsNamed() throws IOException {
        Path junk = Files.writeString(dir.resolve("junk.pem"), "hello\n");
        ServerTls.SelfSigned minted = ServerTls.selfSigned(dir);
        assertThatThrownBy(() -> ServerTls.context(junk, minted.keyFile()))
                .hasMessage("certificate file " + junk + " holds no PEM certificate (expected -----BEGIN"
                        + " CERTIFICATE-----)");
        assertThatThrownBy(() -> ServerTls.context(minted.certFile(), minted.certFile()))
                .hasMessageStartingWith("private key file " + minted.certFile() + " holds no PEM private key");
        Path broken = Files.writeString(dir.resolve("broken.pem"),
                "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> ServerTls.context(broken, minted.keyFile()))
                .hasMessageStartingWith("cannot read certificate file " + broken + ": ");
    }

    @Test
    void anEncryptedKeyIsRefusedWithAHint() throws Exception {
        ServerTls.SelfSigned minted = ServerTls.selfSigned(dir);
        Path encrypted = write("encrypted.key", new JcaPKCS8Generator(minted.privateKey(),
                new JceOpenSSLPKCS8EncryptorBuilder(PKCS8Generator.AES_256_CBC)
                        .setProvider(new BouncyCastleProvider()).setPassword("pw".toCharArray()).build()));
        assertThatThrownBy(() -> ServerTls.context(minted.certFile(), encrypted))
                .hasMessageStartingWith("private key file " + encrypted + " is encrypted");
    }

    @Test
    void aKeyOfAnotherCertificateIsRefused() {
        ServerTls.SelfSigned one = ServerTls.selfSigned(dir.resolve("one"));
        ServerTls.SelfSigned other = ServerTls.selfSigned(dir.resolve("other"));
        assertThatThrownBy(() -> ServerTls.context(one.certFile(), other.keyFile()))
                .hasMessage("private key " + other.keyFile() + " does not belong to the first certificate in "
                        + one.certFile() + " (CN=localhost,O=mailproxy self-signed)");
    }

    @Test
    void aPkcs12KeyStoreHoldsTheKeyAndCertificate() throws Exception {
        ServerTls.SelfSigned minted = ServerTls.selfSigned(dir);
        Path p12 = dir.resolve("tls.p12");
        minted.writePkcs12(p12, "changeit".toCharArray());
        KeyStore store = KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(p12)) {
            store.load(in, "changeit".toCharArray());
        }
        assertThat(store.getCertificate("mailproxy")).isEqualTo(minted.certificate());
        assertThat(minted.trustStore().getCertificate("mailproxy")).isEqualTo(minted.certificate());
        assertThat(minted.trustStore().isKeyEntry("mailproxy")).isFalse();
        assertThat(store.getKey("mailproxy", "changeit".toCharArray()).getEncoded())
                .isEqualTo(minted.privateKey().getEncoded());
    }

    private Path write(String name, Object pem) throws IOException {
        Path file = dir.resolve(name);
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.US_ASCII); JcaPEMWriter writer = new JcaPEMWriter(w)) {
            writer.writeObject(pem);
        }
        return file;
    }

    private static KeyPair keyPair(boolean ec) throws Exception {
        // BC's EC keys carry the curve inside the SEC1 structure, as OpenSSL writes it (`openssl ecparam -genkey`)
        KeyPairGenerator generator = ec ? KeyPairGenerator.getInstance("EC", new BouncyCastleProvider())
                : KeyPairGenerator.getInstance("RSA");
        if (ec) {
            generator.initialize(new ECGenParameterSpec("secp256r1"));
        } else {
            generator.initialize(2048);
        }
        return generator.generateKeyPair();
    }

    private static X509Certificate certificate(KeyPair keys, boolean ec) throws Exception {
        X500Principal name = new X500Principal("CN=localhost");
        Instant now = Instant.now();
        var builder = new JcaX509v3CertificateBuilder(name, BigInteger.TWO, Date.from(now.minusSeconds(60)),
                Date.from(now.plus(Duration.ofDays(1))), name, keys.getPublic())
                .addExtension(Extension.subjectAlternativeName, false,
                        new GeneralNames(new GeneralName(GeneralName.dNSName, "localhost")));
        return new JcaX509CertificateConverter().getCertificate(builder.build(
                new JcaContentSignerBuilder(ec ? "SHA256withECDSA" : "SHA256withRSA").build(keys.getPrivate())));
    }

    /**
     * Runs a handshake in memory between the context's engine and a JDK client that trusts only {@code trusted}
     * and checks the host name; returns the protocol agreed.
     */
    static String handshake(SslContext context, X509Certificate trusted, String hostName, String onlyProtocol)
            throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("server", trusted);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext clientContext = SSLContext.getInstance("TLS");
        clientContext.init(null, tmf.getTrustManagers(), null);
        SSLEngine client = clientContext.createSSLEngine(hostName, 993);
        client.setUseClientMode(true);
        SSLParameters parameters = client.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        if (onlyProtocol != null) {
            parameters.setProtocols(new String[] {onlyProtocol});
        }
        client.setSSLParameters(parameters);
        SSLEngine server = context.newEngine(ByteBufAllocator.DEFAULT);
        try {
            ByteBuffer toServer = ByteBuffer.allocate(1 << 17);
            ByteBuffer toClient = ByteBuffer.allocate(1 << 17);
            ByteBuffer app = ByteBuffer.allocate(1 << 17);
            client.beginHandshake();
            server.beginHandshake();
            for (int i = 0; i < 200; i++) {
                if (client.getHandshakeStatus() == HandshakeStatus.NOT_HANDSHAKING
                        && server.getHandshakeStatus() == HandshakeStatus.NOT_HANDSHAKING) {
                    return client.getSession().getProtocol();
                }
                step(client, toClient, toServer, app);
                step(server, toServer, toClient, app);
            }
            throw new AssertionError("the handshake did not finish");
        } finally {
            ReferenceCountUtil.release(server);
        }
    }

    private static void step(SSLEngine engine, ByteBuffer in, ByteBuffer out, ByteBuffer app) throws SSLException {
        switch (engine.getHandshakeStatus()) {
            case NEED_TASK -> {
                for (Runnable task = engine.getDelegatedTask(); task != null; task = engine.getDelegatedTask()) {
                    task.run();
                }
            }
            case NEED_WRAP -> engine.wrap(ByteBuffer.allocate(0), out);
            case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> {
                in.flip();
                try {
                    engine.unwrap(in, app);
                } finally {
                    in.compact();
                }
            }
            default -> { }
        }
    }
}
