package io.mailproxy.core.runtime;

import static io.mailproxy.core.runtime.TestConfigs.config;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.config.ListenerTls;
import io.mailproxy.core.tls.ServerTls;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerRuntimeTlsTest {

    private static final Transport TRANSPORT = Transport.detect();
    private static EventLoopGroup workers;
    /** Minted once: RSA key generation is the slow part of these tests. */
    private static ServerTls.SelfSigned cert;

    @TempDir
    static Path shared;

    @TempDir
    Path dir;

    private final List<LineClient> clients = new ArrayList<>();
    private final LogCapture logs = new LogCapture();
    private ServerRuntime runtime;

    @BeforeAll
    static void workers() {
        workers = TRANSPORT.newEventLoopGroup(2, "test-tls");
        cert = ServerTls.selfSigned(shared);
    }

    @AfterAll
    static void stopWorkers() {
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void stop() {
        clients.forEach(LineClient::close);
        if (runtime != null) {
            runtime.shutdown(Duration.ofSeconds(2));
        }
        logs.close();
    }

    private InetSocketAddress start(LimitsConfig limits, ListenerConfig listener) {
        runtime = new ServerRuntime(TRANSPORT, workers, Map.of(Protocol.IMAP, new LineFrontend("imap")),
                new SimpleMeterRegistry(), Clock.systemUTC());
        runtime.start(config(limits, listener));
        return runtime.boundAddresses().get(0);
    }

    /** A JDK client that trusts only {@code trusted} and checks the certificate names 127.0.0.1. */
    private LineClient tlsClient(InetSocketAddress address, X509Certificate trusted) throws Exception {
        SSLSocket socket = (SSLSocket) context(trusted).getSocketFactory().createSocket(address.getAddress(),
                address.getPort());
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(parameters);
        socket.setSoTimeout(5000);
        socket.startHandshake();
        LineClient client = new LineClient(socket);
        clients.add(client);
        return client;
    }

    private static SSLContext context(X509Certificate trusted) throws Exception {
        java.security.KeyStore store = java.security.KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setCertificateEntry("server", trusted);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(store);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, tmf.getTrustManagers(), null);
        return context;
    }

    @Test
    void anImplicitTlsListenerServesTheMintedCertificate() throws Exception {
        InetSocketAddress address = start(TestConfigs.NO_LIMITS, TestConfigs.tls(Protocol.IMAP, "127.0.0.1", 0,
                cert.listenerTls(ListenerTls.Mode.IMPLICIT)));

        LineClient client = tlsClient(address, cert.certificate());
        assertThat(client.readLine()).matches("\\+OK imap imap-[0-9a-z]+ secure=true");
        assertThat(client.ask("over TLS")).isEqualTo("echo over TLS");
        assertThat(((SSLSocket) client.socket()).getSession().getProtocol()).isIn("TLSv1.3", "TLSv1.2");
        assertThat(logs.lines(Level.INFO)).contains(
                "listening: imap 127.0.0.1:" + address.getPort() + " (implicit TLS, loopback only)");
    }

    @Test
    void aPlaintextClientOnAnImplicitTlsListenerGetsNoGreeting() throws Exception {
        InetSocketAddress address = start(TestConfigs.NO_LIMITS, TestConfigs.tls(Protocol.IMAP, "127.0.0.1", 0,
                cert.listenerTls(ListenerTls.Mode.IMPLICIT)));
        LineClient plain = LineClient.connect(address);
        clients.add(plain);
        plain.send("a LOGIN user pass");
        byte[] answer = plain.socket().getInputStream().readAllBytes();    // at most a TLS alert, then the end
        assertThat(new String(answer, java.nio.charset.StandardCharsets.ISO_8859_1)).doesNotContain("+OK");
        assertThat(answer.length).isLessThan(16);
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> logs.events().stream().anyMatch(
                e -> e.getLevel() == Level.DEBUG && e.getFormattedMessage().startsWith("TLS failed: ")
                        && e.getMDCPropertyMap().getOrDefault("session", "").startsWith("imap-")));
        assertThat(logs.lines(Level.WARN)).isEmpty();
    }

    /** Behind a load balancer the PROXY header comes in plaintext first; the TLS handshake follows it. */
    @Test
    void behindALoadBalancerTheHandshakeFollowsThePlaintextProxyHeader() throws Exception {
        ListenerConfig listener = new ListenerConfig(Protocol.IMAP, "127.0.0.1", 0, java.util.Optional.empty(),
                List.of(), java.util.Optional.of(cert.listenerTls(ListenerTls.Mode.IMPLICIT)), java.util.Optional.of(
                        new io.mailproxy.core.config.ProxyProtocolConfig(
                                List.of(io.mailproxy.core.config.Cidr.parse("127.0.0.1/32")), Duration.ofSeconds(5))));
        InetSocketAddress address = start(TestConfigs.NO_LIMITS, listener);
        Socket raw = new Socket(address.getAddress(), address.getPort());
        raw.getOutputStream().write(("PROXY TCP6 2001:db8::10 ::1 5555 " + address.getPort() + "\r\n")
                .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        SSLSocket socket = (SSLSocket) context(cert.certificate()).getSocketFactory().createSocket(raw,
                "127.0.0.1", address.getPort(), true);
        SSLParameters parameters = socket.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(parameters);
        socket.setSoTimeout(5000);
        socket.startHandshake();
        LineClient client = new LineClient(socket);
        clients.add(client);
        assertThat(client.readLine()).matches("\\+OK imap imap-[0-9a-z]+ secure=true");
        assertThat(client.ask("over TLS")).isEqualTo("echo over TLS");
        assertThat(runtime.sessions()).singleElement().extracting(SessionInfo::remote)
                .isEqualTo("[2001:db8:0:0:0:0:0:10]:5555");
    }

    @Test
    void overALimitTheRefusalTravelsOverTls() throws Exception {
        InetSocketAddress address = start(new LimitsConfig(1, 1, Duration.ofSeconds(1), 1),
                TestConfigs.tls(Protocol.IMAP, "127.0.0.1", 0, cert.listenerTls(ListenerTls.Mode.IMPLICIT)));
        assertThat(tlsClient(address, cert.certificate()).readLine()).startsWith("+OK imap");
        LineClient second = tlsClient(address, cert.certificate());
        assertThat(second.readLine()).isEqualTo("-ERR imap too many connections");
        assertThat(second.readLine()).isNull();
    }

    @Test
    void startTlsUpgradesWithTheListenersCertificate() throws Exception {
        InetSocketAddress address = start(TestConfigs.NO_LIMITS, TestConfigs.tls(Protocol.IMAP, "127.0.0.1", 0,
                cert.listenerTls(ListenerTls.Mode.STARTTLS)));
        LineClient plain = LineClient.connect(address);
        clients.add(plain);
        assertThat(plain.readLine()).endsWith("secure=false");
        assertThat(plain.ask("STARTTLS")).isEqualTo("+OK begin TLS");

        Socket raw = plain.socket();
        SSLSocket upgraded = (SSLSocket) context(cert.certificate()).getSocketFactory().createSocket(raw,
                "127.0.0.1", address.getPort(), true);
        SSLParameters parameters = upgraded.getSSLParameters();
        parameters.setEndpointIdentificationAlgorithm("HTTPS");
        upgraded.setSSLParameters(parameters);
        upgraded.startHandshake();
        LineClient secure = new LineClient(upgraded);
        clients.add(secure);
        assertThat(secure.ask("SECURE?")).isEqualTo("+OK secure=true");
        assertThat(logs.lines(Level.INFO)).contains(
                "listening: imap 127.0.0.1:" + address.getPort() + " (STARTTLS, loopback only)");
    }

    @Test
    void reloadReadsRenewedCertificateFilesForNewConnections() throws Exception {
        ServerTls.SelfSigned first = ServerTls.selfSigned(dir);
        ListenerConfig listener = TestConfigs.tls(Protocol.IMAP, "127.0.0.1", 0,
                first.listenerTls(ListenerTls.Mode.IMPLICIT));
        InetSocketAddress address = start(TestConfigs.NO_LIMITS, listener);
        LineClient old = tlsClient(address, first.certificate());
        assertThat(old.readLine()).startsWith("+OK");

        ServerTls.SelfSigned renewed = ServerTls.selfSigned(dir);     // same file names, new key and certificate
        runtime.reload(config(listener));

        assertThat(runtime.boundAddresses()).containsExactly(address);
        assertThat(tlsClient(address, renewed.certificate()).readLine()).startsWith("+OK imap");
        assertThatThrownBy(() -> tlsClient(address, first.certificate())).isInstanceOf(SSLHandshakeException.class);
        assertThat(old.ask("still on the old certificate")).isEqualTo("echo still on the old certificate");
    }
}
