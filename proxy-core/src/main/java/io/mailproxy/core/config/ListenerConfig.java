package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.util.List;
import java.util.Optional;

/**
 * One listening socket.
 *
 * @param client     a fixed client: connections are that client without AUTH (SMTP devices on the LAN)
 * @param allowFrom  networks allowed to connect; empty means loopback only unless the bind address is loopback
 * @param proxyProtocol present when load balancers in front of the listener send a PROXY header; {@code allowFrom}
 *                   and the limits then judge the client address the header names
 */
public record ListenerConfig(
        Protocol protocol,
        String bind,
        int port,
        Optional<String> client,
        List<Cidr> allowFrom,
        Optional<ListenerTls> tls,
        Optional<ProxyProtocolConfig> proxyProtocol) {

    public ListenerConfig {
        allowFrom = List.copyOf(allowFrom);
    }

    /** A listener without the PROXY protocol. */
    public ListenerConfig(Protocol protocol, String bind, int port, Optional<String> client, List<Cidr> allowFrom,
                          Optional<ListenerTls> tls) {
        this(protocol, bind, port, client, allowFrom, tls, Optional.empty());
    }

    /**
     * True only for implicit TLS: a STARTTLS listener greets in plaintext and a client may log in before it upgrades,
     * so for who may connect it counts as plaintext (allow-from needed off loopback).
     */
    public boolean encryptedFromFirstByte() {
        return tls.map(t -> t.mode() == ListenerTls.Mode.IMPLICIT).orElse(false);
    }

    /** "imap 127.0.0.1:1143", for logs. */
    public String describe() {
        return protocol.configName() + " " + (bind.contains(":") ? "[" + bind + "]" : bind) + ":" + port;
    }
}
