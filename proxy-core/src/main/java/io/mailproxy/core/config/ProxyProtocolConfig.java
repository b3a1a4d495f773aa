package io.mailproxy.core.config;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;

/**
 * A listener behind a load balancer that speaks the PROXY protocol (HAProxy's v1 text or v2 binary header).
 *
 * @param trusted       the load balancers: a connection from one of these must start with a PROXY header, and the
 *                      address in it is the client's; a PROXY header from anywhere else closes the connection
 * @param headerTimeout how long a trusted peer has to send the whole header before the connection is closed
 */
public record ProxyProtocolConfig(List<Cidr> trusted, Duration headerTimeout) {

    /** reference.conf's header timeout. */
    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(5);

    public ProxyProtocolConfig {
        trusted = List.copyOf(trusted);
    }

    /** True when {@code peer} (the TCP peer, not a claimed address) may send a PROXY header. */
    public boolean trusts(InetAddress peer) {
        for (Cidr cidr : trusted) {
            if (cidr.contains(peer)) {
                return true;
            }
        }
        return false;
    }
}
