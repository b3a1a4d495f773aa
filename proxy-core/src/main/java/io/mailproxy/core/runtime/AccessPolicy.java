package io.mailproxy.core.runtime;

import io.mailproxy.core.config.Cidr;
import io.mailproxy.core.config.ListenerConfig;
import java.net.InetAddress;
import java.util.function.Predicate;

/**
 * Who may connect to a listener. Loopback clients always may. A listener bound to a loopback address accepts nobody
 * else. Otherwise a client must be in {@code allow-from}; a listener with local TLS and no {@code allow-from} is open
 * to every address (DESIGN: an off-host plaintext listener needs {@code allow-from}, a TLS one does not).
 * Behind a load balancer ({@code proxy-protocol}) the address judged is the client's from the PROXY header, and a
 * loopback bind says nothing about where clients are: the load balancer may be on this host.
 */
final class AccessPolicy {

    private final Predicate<InetAddress> loopback;

    /** @param loopback what counts as loopback ({@link InetAddress#isLoopbackAddress()} outside tests) */
    AccessPolicy(Predicate<InetAddress> loopback) {
        this.loopback = loopback;
    }

    boolean isLoopback(InetAddress address) {
        return loopback.test(address);
    }

    boolean allows(ListenerConfig listener, InetAddress bindAddress, InetAddress remote) {
        if (loopback.test(remote)) {
            return true;
        }
        if (loopback.test(bindAddress) && listener.proxyProtocol().isEmpty()) {
            return false;
        }
        if (listener.allowFrom().isEmpty()) {
            return listener.encryptedFromFirstByte();
        }
        for (Cidr cidr : listener.allowFrom()) {
            if (cidr.contains(remote)) {
                return true;
            }
        }
        return false;
    }

    /** "loopback only", "from 192.168.10.0/24", "from any address": for the start-up log line. */
    String describeReach(ListenerConfig listener, InetAddress bindAddress) {
        if (loopback.test(bindAddress) && listener.proxyProtocol().isEmpty()) {
            return "loopback only";
        }
        if (listener.allowFrom().isEmpty()) {
            return listener.encryptedFromFirstByte() ? "from any address" : "loopback only";
        }
        StringBuilder b = new StringBuilder("loopback and ");
        for (int i = 0; i < listener.allowFrom().size(); i++) {
            b.append(i == 0 ? "" : ", ").append(listener.allowFrom().get(i));
        }
        return b.toString();
    }

    /** True when hosts other than this one can reach the listener. */
    boolean reachableFromOtherHosts(ListenerConfig listener, InetAddress bindAddress) {
        return (!loopback.test(bindAddress) || listener.proxyProtocol().isPresent())
                && (!listener.allowFrom().isEmpty() || listener.tls().isPresent());
    }
}
