package io.mailproxy.pop3.session;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.pop3.testing.ProxyServer;
import io.mailproxy.testkit.core.FakeListener;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.SelfSignedCertificate;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** RFC 2595 STLS on a listener with local TLS in starttls mode, over real sockets. */
class StlsTest {

    private static SelfSignedCertificate certificate;
    private static ProxyServer proxy;

    @BeforeAll
    static void start() throws Exception {
        certificate = new SelfSignedCertificate("localhost");
        SslContext tls = SslContextBuilder.forServer(certificate.certificate(), certificate.privateKey()).build();
        proxy = new ProxyServer(1, "unused", "unused", new FakeListener(io.mailproxy.core.Protocol.POP3).startTls(tls));
    }

    @AfterAll
    static void stop() {
        proxy.close();
        certificate.delete();
    }

    private static SSLSocket upgrade(Socket plain) throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) { }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) { }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        SSLSocket tls = (SSLSocket) ctx.getSocketFactory().createSocket(plain, "localhost", plain.getPort(), true);
        tls.startHandshake();
        return tls;
    }

    private static String readCapa(BufferedReader in) throws Exception {
        StringBuilder b = new StringBuilder();
        String line;
        while (!(line = in.readLine()).equals(".")) {
            b.append(line).append('\n');
        }
        return b.toString();
    }

    @Test
    void stlsUpgradesAndPlaintextPipelinedAfterItIsNeverExecuted() throws Exception {
        try (Socket plain = new Socket("127.0.0.1", proxy.port())) {
            plain.setSoTimeout(10_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(plain.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = plain.getOutputStream();
            assertThat(in.readLine()).isEqualTo("+OK mailproxy POP3 ready");
            out.write("CAPA\r\n".getBytes(StandardCharsets.US_ASCII));
            assertThat(readCapa(in)).contains("STLS");
            // an attacker's command injected right after STLS, in the same packet
            out.write("STLS\r\nUSER injected\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            assertThat(in.readLine()).isEqualTo("+OK Begin TLS negotiation");
            try (SSLSocket tls = upgrade(plain)) {
                BufferedReader tin = new BufferedReader(new InputStreamReader(tls.getInputStream(), StandardCharsets.US_ASCII));
                OutputStream tout = tls.getOutputStream();
                tout.write("PASS secret\r\n".getBytes(StandardCharsets.US_ASCII));
                tout.flush();
                assertThat(tin.readLine()).isEqualTo("-ERR Send USER first");
                tout.write("CAPA\r\n".getBytes(StandardCharsets.US_ASCII));
                tout.flush();
                assertThat(tin.readLine()).isEqualTo("+OK Capability list follows");
                assertThat(readCapa(tin)).doesNotContain("STLS").contains("SASL PLAIN");
                tout.write("STLS\r\n".getBytes(StandardCharsets.US_ASCII));
                tout.flush();
                assertThat(tin.readLine()).isEqualTo("-ERR STLS not available");
            }
        }
    }
}
