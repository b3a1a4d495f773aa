package io.mailproxy.core.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.Cidr;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.config.ListenerTls;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class AccessPolicyTest {

    private final AccessPolicy policy = new AccessPolicy(InetAddress::isLoopbackAddress);

    private static InetAddress ip(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static ListenerConfig listener(String bind, boolean tls, String... allowFrom) {
        return new ListenerConfig(Protocol.SMTP, bind, 2525, Optional.empty(),
                List.of(allowFrom).stream().map(Cidr::parse).toList(),
                tls ? Optional.of(new ListenerTls(ListenerTls.Mode.IMPLICIT, Path.of("c"), Path.of("k")))
                        : Optional.empty());
    }

    @Test
    void loopbackClientsAreAlwaysAllowed() {
        ListenerConfig lan = listener("0.0.0.0", false, "192.168.10.0/24");
        assertThat(policy.allows(lan, ip("0.0.0.0"), ip("127.0.0.1"))).isTrue();
        assertThat(policy.allows(lan, ip("0.0.0.0"), ip("127.8.9.10"))).isTrue();
        assertThat(policy.allows(lan, ip("::"), ip("::1"))).isTrue();
    }

    @Test
    void aPlaintextListenerAdmitsOnlyItsAllowFromNetworks() {
        ListenerConfig lan = listener("0.0.0.0", false, "192.168.10.0/24", "2001:db8::/32");
        InetAddress any = ip("0.0.0.0");
        assertThat(policy.allows(lan, any, ip("192.168.10.1"))).isTrue();
        assertThat(policy.allows(lan, any, ip("192.168.10.255"))).isTrue();
        assertThat(policy.allows(lan, any, ip("192.168.11.1"))).isFalse();
        assertThat(policy.allows(lan, any, ip("10.0.0.1"))).isFalse();
        assertThat(policy.allows(lan, ip("::"), ip("2001:db8::7"))).isTrue();
        assertThat(policy.allows(lan, ip("::"), ip("2001:db9::7"))).isFalse();
        assertThat(policy.reachableFromOtherHosts(lan, any)).isTrue();
        assertThat(policy.describeReach(lan, any)).isEqualTo("loopback and 192.168.10.0/24, 2001:db8:0:0:0:0:0:0/32");
    }

    @Test
    void aPlaintextListenerWithoutAllowFromStaysLoopbackOnlyWhereverItIsBound() {
        ListenerConfig open = listener("0.0.0.0", false);
        assertThat(policy.allows(open, ip("0.0.0.0"), ip("192.168.10.1"))).isFalse();
        assertThat(policy.reachableFromOtherHosts(open, ip("0.0.0.0"))).isFalse();
        assertThat(policy.describeReach(open, ip("0.0.0.0"))).isEqualTo("loopback only");
    }

    @Test
    void aTlsListenerWithoutAllowFromIsOpenToEveryAddressAndWithItOnlyToThose() {
        ListenerConfig open = listener("0.0.0.0", true);
        assertThat(policy.allows(open, ip("0.0.0.0"), ip("203.0.113.9"))).isTrue();
        assertThat(policy.describeReach(open, ip("0.0.0.0"))).isEqualTo("from any address");
        ListenerConfig restricted = listener("0.0.0.0", true, "203.0.113.0/28");
        assertThat(policy.allows(restricted, ip("0.0.0.0"), ip("203.0.113.9"))).isTrue();
        assertThat(policy.allows(restricted, ip("0.0.0.0"), ip("203.0.113.19"))).isFalse();
    }

    @Test
    void aListenerBoundToLoopbackAcceptsOnlyLoopbackWhateverAllowFromSays() {
        ListenerConfig loopback = listener("127.0.0.1", true, "0.0.0.0/0");
        assertThat(policy.allows(loopback, ip("127.0.0.1"), ip("127.0.0.1"))).isTrue();
        assertThat(policy.allows(loopback, ip("127.0.0.1"), ip("192.168.10.1"))).isFalse();
        assertThat(policy.reachableFromOtherHosts(loopback, ip("127.0.0.1"))).isFalse();
        assertThat(policy.describeReach(loopback, ip("127.0.0.1"))).isEqualTo("loopback only");
    }
}
