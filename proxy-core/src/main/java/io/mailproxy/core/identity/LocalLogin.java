package io.mailproxy.core.identity;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig;

/** The outcome of a local login. */
public sealed interface LocalLogin {

    record Accepted(ClientConfig client, AccountConfig account) implements LocalLogin { }

    /** @param reason for the log only; the client sees the protocol's generic failure */
    record Rejected(String reason) implements LocalLogin { }

    /**
     * The login name (with the source address, off loopback) is penalised after repeated failures, and this attempt
     * was answered without checking its password: the client gets the protocol's temporary failure, never the
     * wrong-password reply (a client with the right password only has to try again later).
     *
     * @param reason for the log only
     */
    record Throttled(String reason) implements LocalLogin { }
}
