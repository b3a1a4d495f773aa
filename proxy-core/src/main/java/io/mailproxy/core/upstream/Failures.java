package io.mailproxy.core.upstream;

import io.mailproxy.core.upstream.UpstreamException.Kind;
import io.netty.channel.ConnectTimeoutException;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import javax.net.ssl.SSLException;

/** Turns transport exceptions into typed upstream outcomes with a message that says what happened. */
final class Failures {

    private Failures() { }

    static UpstreamException classify(Throwable t, String during) {
        Throwable e = unwrap(t);
        UpstreamException typed = find(e, UpstreamException.class);
        if (typed != null) {
            return typed;
        }
        if (e instanceof ConnectTimeoutException) {
            return new UpstreamException(Kind.TIMED_OUT, "connect timed out (" + e.getMessage() + ")", null, null);
        }
        if (e instanceof SslHandshakeTimeoutException) {
            return new UpstreamException(Kind.TIMED_OUT, "TLS handshake timed out (" + e.getMessage() + ")", null, null);
        }
        if (find(e, NotSslRecordException.class) != null) {
            return new UpstreamException(Kind.TLS_FAILURE, "upstream sent bytes that are not TLS where the handshake "
                    + "should start (bytes injected after STARTTLS?)", null, null);
        }
        CertificateException cert = find(e, CertificateException.class);
        if (cert != null || find(e, CertPathValidatorException.class) != null) {
            return new UpstreamException(Kind.TLS_FAILURE, certificateMessage(cert, e), null, null);
        }
        if (find(e, SSLException.class) != null) {
            SSLException ssl = find(e, SSLException.class);
            return new UpstreamException(Kind.TLS_FAILURE, "TLS handshake failed " + during + ": " + ssl.getMessage(), null, null);
        }
        if (e instanceof ConnectException || e instanceof NoRouteToHostException) {
            return new UpstreamException(Kind.UNREACHABLE, "connection refused or no route (" + e.getMessage() + ")", null, null);
        }
        if (e instanceof UnknownHostException) {
            return new UpstreamException(Kind.UNREACHABLE, "unknown host " + e.getMessage(), null, null);
        }
        if (e instanceof ClosedChannelException) {
            return new UpstreamException(Kind.UNREACHABLE, "connection closed " + during, null, null);
        }
        if (e instanceof IOException) {
            return new UpstreamException(Kind.UNREACHABLE, "connection lost " + during + ": " + e.getMessage(), null, null);
        }
        return new UpstreamException(Kind.PROTOCOL_ERROR, "unexpected failure " + during + ": " + e, null, e);
    }

    private static String certificateMessage(CertificateException cert, Throwable e) {
        String detail = cert != null ? String.valueOf(cert.getMessage()) : String.valueOf(e.getMessage());
        String lower = detail.toLowerCase(Locale.ROOT);
        if (lower.contains("subject alternative") || lower.contains("no name matching") || lower.contains("hostname")) {
            return "upstream certificate does not match the host name (hostname verification failed: " + detail + ")";
        }
        return "upstream certificate not trusted (chain verification failed: " + detail + ")";
    }

    static Throwable unwrap(Throwable t) {
        Throwable e = t;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    private static <T extends Throwable> T find(Throwable t, Class<T> type) {
        for (Throwable e = t; e != null; e = e.getCause() == e ? null : e.getCause()) {
            if (type.isInstance(e)) {
                return type.cast(e);
            }
        }
        return null;
    }
}
