package io.mailproxy.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStream;
import java.nio.file.Files;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TestCertificatesTest {

    private final TestCertificates certs = TestCertificates.create();

    private static List<String> sans(X509Certificate c) throws Exception {
        List<String> out = new ArrayList<>();
        for (List<?> san : c.getSubjectAlternativeNames()) {
            out.add(san.get(0) + ":" + san.get(1));
        }
        return out;
    }

    @Test
    void serverCertificateNamesLoopbackAndChainsToTheCa() throws Exception {
        TestCertificates.ServerCert s = certs.server();
        assertThat(sans(s.certificate())).containsExactly("2:localhost", "7:127.0.0.1", "7:0:0:0:0:0:0:0:1");
        s.certificate().verify(certs.caCertificate().getPublicKey());
        certs.trustManager().checkServerTrusted(s.chain().toArray(new X509Certificate[0]), "ECDHE_ECDSA");
        assertThat(certs.server()).isSameAs(s);
    }

    @Test
    void wrongHostAndSelfSigned() throws Exception {
        assertThat(sans(certs.wrongHost().certificate())).containsExactly("2:wrong.example.invalid");
        TestCertificates.ServerCert self = certs.selfSigned();
        assertThat(self.chain()).hasSize(1);
        assertThatThrownBy(() -> certs.trustManager().checkServerTrusted(
                self.chain().toArray(new X509Certificate[0]), "ECDHE_ECDSA")).isInstanceOf(CertificateException.class);
    }

    @Test
    void filesArePemAndPkcs12() throws Exception {
        TestCertificates.ServerCert s = certs.server("mail.test", "10.1.2.3");
        List<java.security.cert.Certificate> chain;
        try (InputStream in = Files.newInputStream(s.certPem())) {
            chain = new ArrayList<>(CertificateFactory.getInstance("X.509").generateCertificates(in));
        }
        assertThat(chain).containsExactly(s.certificate(), certs.caCertificate());
        assertThat(Files.readString(s.keyPem())).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(Files.readString(certs.caPem())).startsWith("-----BEGIN CERTIFICATE-----");
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(s.pkcs12())) {
            ks.load(in, TestCertificates.KEYSTORE_PASSWORD.toCharArray());
        }
        assertThat(ks.getCertificate("server")).isEqualTo(s.certificate());
        assertThat(ks.getKey("server", TestCertificates.KEYSTORE_PASSWORD.toCharArray())).isEqualTo(s.key());
    }

    @Test
    void sharedIsOnePerJvm() {
        assertThat(TestCertificates.shared()).isSameAs(TestCertificates.shared());
    }
}
