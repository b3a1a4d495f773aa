package io.mailproxy.core.runtime;

import com.typesafe.config.ConfigFactory;
import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AdminConfig;
import io.mailproxy.core.config.Cidr;
import io.mailproxy.core.config.LimitsConfig;
import io.mailproxy.core.config.ListenerConfig;
import io.mailproxy.core.config.ListenerTls;
import io.mailproxy.core.config.MailproxyConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Config records built directly (config loading is tested elsewhere). */
final class TestConfigs {

    static final LimitsConfig NO_LIMITS = new LimitsConfig(1000, 1000, Duration.ofSeconds(5), 2);

    private TestConfigs() { }

    static ListenerConfig plain(Protocol protocol, String bind, int port) {
        return new ListenerConfig(protocol, bind, port, Optional.empty(), List.of(), Optional.empty());
    }

    static ListenerConfig plainFrom(Protocol protocol, String bind, String... allowFrom) {
        return new ListenerConfig(protocol, bind, 0, Optional.empty(),
                Arrays.stream(allowFrom).map(Cidr::parse).toList(), Optional.empty());
    }

    static ListenerConfig tls(Protocol protocol, String bind, int port, ListenerTls tls) {
        return new ListenerConfig(protocol, bind, port, Optional.empty(), List.of(), Optional.of(tls));
    }

    static MailproxyConfig config(LimitsConfig limits, ListenerConfig... listeners) {
        return new MailproxyConfig("test", Path.of("state"), List.of(listeners), Map.of(), Map.of(), Map.of(),
                Map.of(), new AdminConfig(false, "127.0.0.1", 0), limits, ConfigFactory.empty());
    }

    static MailproxyConfig config(ListenerConfig... listeners) {
        return config(NO_LIMITS, listeners);
    }
}
