package io.mailproxy.core.tls;

import io.mailproxy.core.config.UpstreamConfig;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client TLS towards upstreams (DESIGN rule 6): BoringSSL through netty-tcnative when it loads, the JDK otherwise;
 * TLS 1.3 and 1.2 only; the system's trust anchors plus those in the upstream's {@code ca-file}; chain and hostname
 * always verified. One {@link SslContext} per trust configuration, built on first use and cached.
 */
public final class ClientTls {

    private static final Logger LOG = LoggerFactory.getLogger(ClientTls.class);
    private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

    private final SslProvider provider;
    private final Map<Key, SslContext> contexts = new ConcurrentHashMap<>();

    /** A cache key: the CA file and when it last changed, so an edited ca-file is picked up after a reload. */
    private record Key(Optional<Path> caFile, long modified) { }

    /** BoringSSL when available, else the JDK. */
    public ClientTls() {
        this(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK);
    }

    /** With a given provider (tests run both). */
    public ClientTls(SslProvider provider) {
        this.provider = Objects.requireNonNull(provider);
        LOG.debug("upstream TLS provider: {}", provider);
    }

    public SslProvider provider() {
        return provider;
    }

    /**
     * The client context for an upstream: built once per {@code ca-file} (and its modification time).
     *
     * @throws SSLException if the CA file cannot be read or holds no certificate
     */
    public SslContext context(UpstreamConfig upstream) throws SSLException {
        Optional<Path> ca = upstream.caFile();
        long modified = 0;
        if (ca.isPresent()) {
            try {
                modified = Files.getLastModifiedTime(ca.get()).toMillis();
            } catch (IOException e) {
                throw new SSLException("cannot read ca-file " + ca.get() + " of upstream " + upstream.name() + ": " + e, e);
            }
        }
        Key key = new Key(ca, modified);
        SslContext ctx = contexts.get(key);
        if (ctx == null) {
            ctx = build(upstream.name(), ca);
            SslContext prev = contexts.putIfAbsent(key, ctx);
            if (prev != null) {
                ReferenceCountUtil.release(ctx); // lost a race; OpenSSL contexts are reference counted
                ctx = prev;
            }
        }
        return ctx;
    }

    /**
     * A handler (to be named {@code "tls"}) for a connection to {@code host:port}: SNI with the host name, and the
     * endpoint identification algorithm {@code HTTPS} (RFC 2818/6125 hostname checking, IP literals included).
     */
    public SslHandler newHandler(UpstreamConfig upstream, ByteBufAllocator alloc, String host, int port)
            throws SSLException {
        return newHandler(context(upstream), alloc, host, port);
    }

    /**
     * As {@link #newHandler(UpstreamConfig, ByteBufAllocator, String, int)} with a context already built by
     * {@link #context}: no file is read, so an event loop may call it.
     */
    public SslHandler newHandler(SslContext context, ByteBufAllocator alloc, String host, int port) {
        SslHandler handler = context.newHandler(alloc, host, port);
        SSLEngine engine = handler.engine();
        SSLParameters params = engine.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        engine.setSSLParameters(params);
        return handler;
    }

    /**
     * The trust of an upstream as JDK trust managers: the system's anchors, plus those in {@code caFile}. For clients
     * that are not Netty's (Microsoft Graph over the JDK's HttpClient); they verify chain and hostname themselves.
     */
    public static TrustManagerFactory trustManagers(String upstreamName, Optional<Path> caFile)
            throws GeneralSecurityException, IOException {
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (caFile.isEmpty()) {
            tmf.init((KeyStore) null);
        } else {
            tmf.init(systemPlus(upstreamName, caFile.get()));
        }
        return tmf;
    }

    /** TLS 1.3 and 1.2 only, as for every upstream. */
    public static String[] protocols() {
        return PROTOCOLS.clone();
    }

    private SslContext build(String upstreamName, Optional<Path> caFile) throws SSLException {
        try {
            TrustManagerFactory tmf = trustManagers(upstreamName, caFile);
            return SslContextBuilder.forClient()
                    .sslProvider(provider)
                    .protocols(PROTOCOLS)
                    .trustManager(tmf)
                    .endpointIdentificationAlgorithm("HTTPS")
                    .build();
        } catch (GeneralSecurityException | IOException e) {
            throw new SSLException("cannot build the TLS context for upstream " + upstreamName + ": " + e.getMessage(), e);
        }
    }

    /** The system's anchors (the JDK's cacerts, or {@code javax.net.ssl.trustStore}) plus every certificate in the file. */
    private static KeyStore systemPlus(String upstreamName, Path caFile) throws GeneralSecurityException, IOException {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        TrustManagerFactory system = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        system.init((KeyStore) null);
        int n = 0;
        for (TrustManager tm : system.getTrustManagers()) {
            if (tm instanceof X509TrustManager x) {
                for (X509Certificate c : x.getAcceptedIssuers()) {
                    ks.setCertificateEntry("system-" + n++, c);
                }
            }
        }
        Collection<? extends Certificate> extra;
        try (InputStream in = Files.newInputStream(caFile)) {
            extra = CertificateFactory.getInstance("X.509").generateCertificates(in);
        }
        if (extra.isEmpty()) {
            throw new GeneralSecurityException("ca-file " + caFile + " holds no PEM certificate");
        }
        int i = 0;
        for (Certificate c : extra) {
            ks.setCertificateEntry("ca-file-" + i++, c);
        }
        LOG.debug("upstream {}: {} system trust anchors plus {} from {}", upstreamName, n, i, caFile);
        return ks;
    }
}
