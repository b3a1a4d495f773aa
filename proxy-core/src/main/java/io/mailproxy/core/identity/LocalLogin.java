package io.mailproxy.core.identity;

import io.mailproxy.core.config.AccountConfig;
import io.mailproxy.core.config.ClientConfig;

/** The outcome of a local login. */
public sealed interface LocalLogin {

    record Accepted(ClientConfig client, AccountConfig account) implements LocalLogin { }

    /** @param reason for the log only; the client sees the protocol's generic failure */
    record Rejected(String reason) implements LocalLogin { }
}
