package io.mailproxy.core.upstream;

import java.util.Optional;

/**
 * SASL LOGIN (draft-murchison-sasl-login): no initial response; the first challenge ("Username:") gets the user,
 * the second ("Password:") the password, in base64.
 */
final class LoginMechanism implements SaslMechanism {

    private final String user;
    private final String password;
    private int step;

    LoginMechanism(String user, String password) {
        this.user = user;
        this.password = password;
    }

    @Override
    public String name() {
        return "LOGIN";
    }

    @Override
    public Optional<String> initialResponse() {
        return Optional.empty();
    }

    @Override
    public String respond(String challenge) {
        return switch (step++) {
            case 0 -> SaslMechanism.b64(user);
            case 1 -> SaslMechanism.b64(password);
            default -> "*";
        };
    }

    @Override
    public String toString() {
        return "LOGIN[" + user + ", " + MASK + "]";
    }
}
