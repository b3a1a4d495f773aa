package io.mailproxy.core.identity;

import io.mailproxy.core.Protocol;
import io.mailproxy.core.config.LimitsConfig;
import java.net.SocketAddress;
import java.util.concurrent.CompletableFuture;

/**
 * Checks a legacy app's login name and password against its client entry. Never runs Argon2 on the caller's thread;
 * the future completes on another thread, so a frontend hops back to its event loop before touching the channel.
 */
public interface LocalAuthenticator {

    /**
     * @param password the password bytes (UTF-8); the caller may clear the array once the future completes
     * @return the client and account on success; {@link LocalLogin.Rejected} for an unknown name, a wrong password
     *         or a protocol the client may not use; {@link LocalLogin.Throttled} for a name being slowed down after
     *         failures (the password was not checked). A failure is answered only after a delay.
     */
    CompletableFuture<LocalLogin> authenticate(String login, byte[] password, Protocol protocol, SocketAddress remote);

    /** A fixed client of a listener (no password): resolves the same way, without the password check. */
    LocalLogin fixed(String login, Protocol protocol);

    /**
     * Failed logins ({@link LocalLogin.Rejected} or {@link LocalLogin.Throttled}) one connection may make; at this
     * many the frontend says the protocol's goodbye and closes ({@code limits.max-login-failures}).
     */
    default int maxLoginFailures() {
        return LimitsConfig.DEFAULT_MAX_LOGIN_FAILURES;
    }
}
