package io.mailproxy.core.upstream;

import java.util.Optional;

/**
 * SASL XOAUTH2 (Google's and Microsoft's): {@code base64("user=" mailbox ^A "auth=Bearer " token ^A ^A)}. A server
 * that rejects the token may send a JSON error as a challenge; the client answers it with an empty response and the
 * server then sends its failure reply.
 */
final class XOAuth2Mechanism implements SaslMechanism {

    private final String user;
    private final String token;
    private boolean sent;
    private String serverError;

    XOAuth2Mechanism(String user, String token) {
        this.user = user;
        this.token = token;
    }

    @Override
    public String name() {
        return "XOAUTH2";
    }

    @Override
    public Optional<String> initialResponse() {
        sent = true;
        return Optional.of(SaslMechanism.b64("user=" + user + "\u0001auth=Bearer " + token + "\u0001\u0001"));
    }

    @Override
    public String respond(String challenge) {
        if (!sent) {
            return initialResponse().orElseThrow();
        }
        serverError = SaslMechanism.decodeChallenge(challenge);
        return "";
    }

    @Override
    public Optional<String> serverError() {
        return Optional.ofNullable(serverError);
    }

    @Override
    public String toString() {
        return "XOAUTH2[" + user + ", " + MASK + "]";
    }
}
