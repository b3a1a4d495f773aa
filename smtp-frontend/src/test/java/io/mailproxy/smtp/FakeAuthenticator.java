package io.mailproxy.smtp;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig;
import io.mailproxy.core.identity.LocalAuthenticator;
import io.mailproxy.core.identity.LocalLogin;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;

/** Plain-text passwords, answered on another thread like the real (Argon2) one. */
final class FakeAuthenticator implements LocalAuthenticator {

    record Entry(String password, ClientConfig client, AccountConfig account) { }

    final Map<String, Entry> clients = new ConcurrentHashMap<>();
    /** Login names answered {@link LocalLogin.Throttled} (penalised after failures). */
    final java.util.Set<String> throttled = ConcurrentHashMap.newKeySet();
    private final Executor executor;

    FakeAuthenticator(Executor executor) {
        this.executor = executor;
    }

    @Override
    public CompletableFuture<LocalLogin> authenticate(String login, byte[] password, Protocol protocol, SocketAddress remote) {
        String given = new String(password, StandardCharsets.UTF_8);
        return CompletableFuture.supplyAsync(() -> {
            if (throttled.contains(login)) {
                return new LocalLogin.Throttled(login + " is slowed down");
            }
            Entry e = clients.get(login);
            if (e == null || !e.password().equals(given) || !e.client().allows(protocol)) {
                return new LocalLogin.Rejected("unknown client or wrong password");
            }
            return new LocalLogin.Accepted(e.client(), e.account());
        }, executor);
    }

    @Override
    public LocalLogin fixed(String login, Protocol protocol) {
        Entry e = clients.get(login);
        return e == null ? new LocalLogin.Rejected("no such client") : new LocalLogin.Accepted(e.client(), e.account());
    }
}
