package io.mailproxy.core.config;

import io.mailproxy.core.Protocol;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Binds one entry of {@code accounts}: the mailbox, its upstream, how mailproxy logs in upstream (OAuth2 with its
 * grant, or a password) and the pools of upstream connections.
 */
final class AccountBinder {

    private enum AuthType { OAUTH2, PASSWORD }

    private AccountBinder() {
    }

    static AccountConfig bind(Node n, String name) {
        String mailbox = n.optString("mailbox", "the mailbox address").orElse(name);
        n.checkAddress(n.userHas("mailbox") ? "mailbox" : "", mailbox);
        String upstream = n.string("upstream", "the name of an upstream (a key of upstreams)");
        Node a = n.child("auth");
        AuthType type = a.enumValue("type", AuthType.class);
        AuthConfig auth;
        if (type == AuthType.OAUTH2) {
            String provider = a.string("provider", "the name of an oauth2 provider (a key of oauth2)");
            AuthConfig.Grant grant = a.enumValue("grant", AuthConfig.Grant.class);
            Optional<String> principal = a.optString("principal", "the address whose consent is used");
            principal.ifPresent(p -> a.checkAddress("principal", p));
            if (principal.isPresent() && grant != AuthConfig.Grant.REFRESH_TOKEN) {
                throw a.error("principal", "principal is only for grant = refresh-token (a delegate's consent); "
                        + "expected no principal with grant = " + Node.configName(grant));
            }
            Optional<String> username = a.optString("username", "a login name");
            Optional<SecretRef> password = a.optString("password", "a password or \"secret:NAME\"")
                    .map(SecretRef::parse);
            if (grant == AuthConfig.Grant.PASSWORD) {
                if (password.isEmpty()) {
                    throw a.missing("password", "password = \"secret:NAME\" for grant = password (ROPC)");
                }
            } else if (a.userHas("username") || a.userHas("password")) {
                throw a.error(a.userHas("username") ? "username" : "password", "username and password are only for"
                        + " grant = password (ROPC); expected none with grant = " + Node.configName(grant));
            }
            auth = new AuthConfig.OAuth2(provider, grant, principal, username, password);
        } else {
            for (String k : List.of("provider", "grant", "principal")) {
                if (a.userHas(k)) {
                    throw a.error(k, k + " is only for type = oauth2; expected type = oauth2 or no " + k);
                }
            }
            Optional<String> username = a.optString("username", "a login name");
            SecretRef password = SecretRef.parse(a.string("password", "password = \"secret:NAME\" (or a literal)"));
            auth = new AuthConfig.Password(username, password);
        }
        String from = n.optString("from", "an address").orElse(mailbox);
        n.checkAddress(n.userHas("from") ? "from" : "", from);
        Map<Protocol, PoolConfig> pools = new EnumMap<>(Protocol.class);
        pools.put(Protocol.IMAP, pool(n.child("pool.imap")));
        pools.put(Protocol.SMTP, pool(n.child("pool.smtp")));
        return new AccountConfig(name, mailbox, upstream, auth, from, pools);
    }

    private static PoolConfig pool(Node n) {
        int max = n.integer("max", 1, 1000, "a connection count 1-1000");
        int minIdle = n.integer("min-idle", 0, 1000, "a connection count 0-1000");
        if (minIdle > max) {
            throw n.error("min-idle", "expected min-idle at most max (" + max + "), not " + minIdle);
        }
        return new PoolConfig(max, minIdle, n.duration("acquire-timeout", Duration.ZERO),
                n.duration("min-token-life", Duration.ZERO), n.duration("idle-probe-after", Duration.ZERO),
                n.duration("idle-timeout", ConfigBinder.MIN_TIMEOUT),
                n.duration("keep-alive", ConfigBinder.MIN_TIMEOUT));
    }
}
