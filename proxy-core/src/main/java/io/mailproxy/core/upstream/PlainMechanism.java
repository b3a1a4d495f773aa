package io.mailproxy.core.upstream;

import java.util.Optional;

/** SASL PLAIN (RFC 4616): {@code base64(NUL user NUL password)}, no authorization identity. */
final class PlainMechanism implements SaslMechanism {

    private final String user;
    private final String password;
    private boolean sent;

    PlainMechanism(String user, String password) {
        this.user = user;
        this.password = password;
    }

    @Override
    public String name() {
        return "PLAIN";
    }

    @Override
    public Optional<String> initialResponse() {
        sent = true;
        return Optional.of(SaslMechanism.b64("\u0000" + user + "\u0000" + password));
    }

    @Override
    public String respond(String challenge) {
        return sent ? "*" : initialResponse().orElseThrow();
    }

    @Override
    public String toString() {
        return "PLAIN[" + user + ", " + MASK + "]";
    }
}
