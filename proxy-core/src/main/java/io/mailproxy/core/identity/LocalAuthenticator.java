package io.mailproxy.core.identity;

import io.mailproxy.core.Protocol;
import java.net.SocketAddress;
import java.util.concurrent.CompletableFuture;

/**
 * Checks a legacy app's login name and password against its client entry. Never runs Argon2 on the caller's thread;
 * the future completes on another thread, so a frontend hops back to its event loop before touching the channel.
 */
public interface LocalAuthenticator {

    /**
     * @param password the password bytes (UTF-8); the caller may clear the array once the future completes
     * @return the client and account on success; {@link LocalLogin.Rejected} for an unknown name, a wrong password,
     *         a protocol the client may not use, or a name being slowed down after failures
     */
    CompletableFuture<LocalLogin> authenticate(String login, byte[] password, Protocol protocol, SocketAddress remote);

    /** A fixed client of a listener (no password): resolves the same way, without the password check. */
    LocalLogin fixed(String login, Protocol protocol);
}
