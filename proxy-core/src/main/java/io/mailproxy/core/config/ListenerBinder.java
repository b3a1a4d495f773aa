package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Binds one entry of {@code listeners}: protocol, bind address and port, fixed client, allow-from, local TLS and the
 * PROXY protocol. A listener that anyone could reach in plaintext (or act as its fixed client through) is refused
 * here.
 */
final class ListenerBinder {

    private static final String CIDR = "CIDR blocks such as \"192.168.10.0/24\"";

    private ListenerBinder() {
    }

    static ListenerConfig bind(Node n) {
        Protocol protocol = n.enumValue("protocol", Protocol.class);
        String bind = n.string("bind", "an IP address such as 127.0.0.1, ::1 or 0.0.0.0");
        if (!bind.equalsIgnoreCase("localhost") && ConfigLoader.ipLiteral(bind).isEmpty()) {
            throw n.error("bind", "expected an IP address such as 127.0.0.1, ::1 or 0.0.0.0 (or localhost), not \""
                    + bind + "\"");
        }
        int port = n.integer("port", 0, 65535, "a TCP port 1-65535 (0 picks a free port)");
        Optional<String> client = n.optString("client", "the login name of a client (a key of clients)");
        List<Cidr> allowFrom = new ArrayList<>();
        for (String block : n.stringList("allow-from", CIDR)) {
            try {
                allowFrom.add(Cidr.parse(block.trim()));
            } catch (IllegalArgumentException e) {
                throw n.error("allow-from", "expected " + CIDR + "; " + e.getMessage());
            }
        }
        Optional<ListenerTls> tls = Optional.empty();
        if (n.userHas("tls")) {
            Node t = n.child("tls");
            ListenerTls.Mode mode = t.enumValue("mode", ListenerTls.Mode.class);
            Path cert = t.filePath("cert-file");
            Path key = t.filePath("key-file");
            tls = Optional.of(new ListenerTls(mode, cert, key));
        }
        Optional<ProxyProtocolConfig> proxyProtocol = Optional.empty();
        if (n.userHas("proxy-protocol")) {
            proxyProtocol = Optional.of(proxyProtocol(n.child("proxy-protocol")));
        }
        boolean loopback = ConfigLoader.isLoopback(bind);
        boolean implicitTls = tls.map(t -> t.mode() == ListenerTls.Mode.IMPLICIT).orElse(false);
        if (!loopback && !implicitTls && allowFrom.isEmpty()) {
            throw n.error("bind", "a " + (tls.isPresent() ? "STARTTLS (plaintext until the client upgrades)"
                    : "plaintext") + " listener on " + bind + " would be open to every host; expected "
                    + "bind = \"127.0.0.1\", or allow-from = [...] naming the networks that may connect, or local "
                    + "tls { mode = implicit, cert-file = ..., key-file = ... }");
        }
        if (client.isPresent() && !loopback && allowFrom.isEmpty()) {
            throw n.error("client", "a fixed-client listener on " + bind + " lets anyone who connects act as "
                    + client.get() + " without a password; expected allow-from = [...] naming the networks that may"
                    + " connect, or bind = \"127.0.0.1\"");
        }
        return new ListenerConfig(protocol, bind, port, client, allowFrom, tls, proxyProtocol);
    }

    private static ProxyProtocolConfig proxyProtocol(Node p) {
        List<Cidr> trusted = new ArrayList<>();
        for (String block : p.stringList("trusted", CIDR)) {
            try {
                trusted.add(Cidr.parse(block.trim()));
            } catch (IllegalArgumentException e) {
                throw p.error("trusted", "expected " + CIDR + "; " + e.getMessage());
            }
        }
        if (trusted.isEmpty()) {
            throw p.error("trusted", "expected the addresses of the load balancers that send the PROXY header, e.g."
                    + " [\"10.0.0.5/32\"] (remove proxy-protocol for a listener without one)");
        }
        Duration timeout = p.duration("header-timeout", Duration.ofMillis(100));
        if (timeout.compareTo(Duration.ofMinutes(1)) > 0) {
            throw p.error("header-timeout", "expected a duration of at most 1m, not " + timeout);
        }
        return new ProxyProtocolConfig(trusted, timeout);
    }
}
