package io.mailproxy.core.config;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The whole validated configuration. Immutable; a reload builds a new one.
 *
 * @param source   the file it was read from (for messages), or a description such as "demo"
 * @param raw      the resolved {@code mailproxy} block, for the sections a frontend owns ({@code imap}, {@code pop3}, {@code smtp})
 */
public record MailproxyConfig(
        String source,
        Path stateDir,
        List<ListenerConfig> listeners,
        Map<String, UpstreamConfig> upstreams,
        Map<String, OAuth2ProviderConfig> oauth2,
        Map<String, AccountConfig> accounts,
        Map<String, ClientConfig> clients,
        AdminConfig admin,
        LimitsConfig limits,
        Config raw) {

    public MailproxyConfig {
        listeners = List.copyOf(listeners);
        upstreams = Map.copyOf(upstreams);
        oauth2 = Map.copyOf(oauth2);
        accounts = Map.copyOf(accounts);
        clients = Map.copyOf(clients);
    }

    public Optional<AccountConfig> account(String name) {
        return Optional.ofNullable(accounts.get(name));
    }

    public Optional<ClientConfig> client(String login) {
        return Optional.ofNullable(clients.get(login));
    }

    /** Whether some client of {@code account} reaches it through Microsoft Graph (SMTP or POP3). */
    public boolean usesGraph(String account) {
        AccountConfig a = accounts.get(account);
        UpstreamConfig u = a == null ? null : upstreams.get(a.upstream());
        if (u == null) {
            return false;
        }
        return clients.values().stream().filter(c -> c.account().equals(account)).anyMatch(c -> c.usesGraph(u));
    }

    /** The frontend's own section ({@code mailproxy.imap} etc.), with its reference.conf defaults. */
    public Config section(String name) {
        return raw.getConfig(name);
    }
}
