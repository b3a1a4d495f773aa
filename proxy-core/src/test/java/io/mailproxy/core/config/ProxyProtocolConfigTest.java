package io.mailproxy.core.config;

import static io.mailproxy.core.config.ConfigValidationTest.ACCOUNT;
import static io.mailproxy.core.config.ConfigValidationTest.CLIENT;
import static io.mailproxy.core.config.ConfigValidationTest.OAUTH2;
import static io.mailproxy.core.config.ConfigValidationTest.UPSTREAM;
import static io.mailproxy.core.config.ConfigValidationTest.expectError;
import static io.mailproxy.core.config.ConfigValidationTest.parse;
import static io.mailproxy.core.config.ConfigValidationTest.valid;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The listener key {@code proxy-protocol { trusted = [...], header-timeout = ... }}. */
class ProxyProtocolConfigTest {

    private static String listener(String proxyProtocol) {
        return valid("{ protocol = imap, bind = \"127.0.0.1\", port = 1143, allow-from = [\"192.168.10.0/24\"],\n"
                + "      proxy-protocol " + proxyProtocol + " }", UPSTREAM, OAUTH2, ACCOUNT, CLIENT);
    }

    @Test
    void trustedLoadBalancersAndTheDefaultTimeout() throws Exception {
        ListenerConfig l = parse(listener("{ trusted = [\"10.0.0.5/32\", \"2001:db8::5\"] }")).listeners().get(0);
        assertThat(l.proxyProtocol()).contains(new ProxyProtocolConfig(
                List.of(Cidr.parse("10.0.0.5/32"), Cidr.parse("2001:db8::5/128")), Duration.ofSeconds(5)));
        assertThat(l.proxyProtocol().get().trusts(InetAddress.getByName("10.0.0.5"))).isTrue();
        assertThat(l.proxyProtocol().get().trusts(InetAddress.getByName("10.0.0.6"))).isFalse();
    }

    @Test
    void absentByDefault() {
        assertThat(parse(valid(ConfigValidationTest.LISTENER, UPSTREAM, OAUTH2, ACCOUNT, CLIENT)).listeners().get(0)
                .proxyProtocol()).isEqualTo(Optional.empty());
    }

    @Test
    void headerTimeout() {
        assertThat(parse(listener("{ trusted = [\"10.0.0.5\"], header-timeout = 2s }")).listeners().get(0)
                .proxyProtocol().orElseThrow().headerTimeout()).isEqualTo(Duration.ofSeconds(2));
        expectError(listener("{ trusted = [\"10.0.0.5\"], header-timeout = 5m }"), "proxy-protocol",
                "mailproxy.listeners[0].proxy-protocol.header-timeout", "at most 1m");
    }

    @Test
    void anEmptyTrustedListIsAnError() {
        expectError(listener("{ }"), "proxy-protocol", "mailproxy.listeners[0].proxy-protocol.trusted",
                "the addresses of the load balancers");
    }

    @Test
    void aBadBlock() {
        expectError(listener("{ trusted = [\"haproxy\"] }"), "proxy-protocol",
                "mailproxy.listeners[0].proxy-protocol.trusted", "expected CIDR blocks");
    }

    @Test
    void anUnknownKeyIsAnError() {
        expectError(listener("{ trusted = [\"10.0.0.5\"], version = 2 }"), "proxy-protocol",
                "mailproxy.listeners[0].proxy-protocol.version", "unknown key", "header-timeout, trusted");
    }
}
