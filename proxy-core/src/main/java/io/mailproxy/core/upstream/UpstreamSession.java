package io.mailproxy.core.upstream;

import io.mailproxy.core.Protocol;
import io.netty.channel.Channel;
import java.time.Instant;
import java.util.Optional;
import java.util.Set;

/**
 * An authenticated upstream connection handed over by the connector or a pool lease.
 *
 * <p>Hand-over contract: the pipeline holds only the TLS handler (named {@code "tls"}); AUTO_READ is off; no bytes
 * are pending. Whoever takes it adds its own handlers after {@code "tls"} and calls {@code read()} when ready.
 *
 * @param capabilities upper-cased: IMAP CAPABILITY atoms after login, POP3 CAPA lines, SMTP EHLO keywords
 *                     (with parameters, e.g. {@code "SIZE 35882577"}, {@code "AUTH LOGIN XOAUTH2"})
 * @param tokenExpiresAt when the access token used for login expires; empty for password logins
 */
public record UpstreamSession(
        Protocol protocol,
        Channel channel,
        String greeting,
        Set<String> capabilities,
        Optional<Instant> tokenExpiresAt) {

    public UpstreamSession {
        capabilities = Set.copyOf(capabilities);
    }

    public boolean hasCapability(String name) {
        return capabilities.contains(name) || capabilities.stream().anyMatch(c -> c.startsWith(name + " ") || c.startsWith(name + "="));
    }
}
