package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.net.URI;
import java.util.Locale;

/**
 * One upstream URL: {@code imaps://host:993}, {@code smtp+starttls://host:587} and so on. Plaintext is refused.
 */
public record UpstreamEndpoint(Protocol protocol, Security security, String host, int port) {

    public enum Security { IMPLICIT_TLS, STARTTLS }

    /** @throws IllegalArgumentException with a message saying what is expected */
    public static UpstreamEndpoint parse(String url) {
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a URL: " + url);
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        Protocol protocol;
        Security security;
        int defaultPort;
        switch (scheme) {
            case "imaps" -> { protocol = Protocol.IMAP; security = Security.IMPLICIT_TLS; defaultPort = 993; }
            case "imap+starttls" -> { protocol = Protocol.IMAP; security = Security.STARTTLS; defaultPort = 143; }
            case "pop3s" -> { protocol = Protocol.POP3; security = Security.IMPLICIT_TLS; defaultPort = 995; }
            case "pop3+starttls" -> { protocol = Protocol.POP3; security = Security.STARTTLS; defaultPort = 110; }
            case "smtps" -> { protocol = Protocol.SMTP; security = Security.IMPLICIT_TLS; defaultPort = 465; }
            case "smtp+starttls" -> { protocol = Protocol.SMTP; security = Security.STARTTLS; defaultPort = 587; }
            case "imap", "pop3", "pop", "smtp" -> throw new IllegalArgumentException(
                    "plaintext upstream " + url + " is refused: use " + scheme.replace("pop", "pop3").replace("pop33", "pop3")
                            + "s:// or " + scheme.replace("pop", "pop3").replace("pop33", "pop3") + "+starttls://");
            default -> throw new IllegalArgumentException("unknown upstream scheme in " + url
                    + ": expected imaps, imap+starttls, pop3s, pop3+starttls, smtps or smtp+starttls");
        }
        if (uri.getHost() == null || uri.getHost().isEmpty()) {
            throw new IllegalArgumentException("no host in upstream URL " + url);
        }
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new UpstreamEndpoint(protocol, security, host, uri.getPort() < 0 ? defaultPort : uri.getPort());
    }

    public String toUrl() {
        String scheme = protocol.configName() + (security == Security.IMPLICIT_TLS ? "s" : "+starttls");
        return scheme + "://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    @Override
    public String toString() {
        return toUrl();
    }
}
