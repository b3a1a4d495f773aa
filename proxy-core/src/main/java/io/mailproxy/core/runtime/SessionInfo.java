package io.mailproxy.core.runtime;

import io.mailproxy.core.Protocol;
import java.time.Instant;
import java.util.Optional;

/**
 * A snapshot of one open client session, for {@code /status}.
 *
 * @param id       the session id of its log lines
 * @param remote   the client's address and port
 * @param client   the local login name, once logged in (or the listener's fixed client)
 * @param account  the account it relays to, once logged in
 * @param bytesIn  bytes received from the client so far (on the wire, TLS included)
 * @param bytesOut bytes sent to the client so far
 */
public record SessionInfo(String id, Protocol protocol, String remote, Optional<String> client,
                          Optional<String> account, Instant opened, long bytesIn, long bytesOut) { }
