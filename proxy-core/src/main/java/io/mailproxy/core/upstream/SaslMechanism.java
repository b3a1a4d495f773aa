package io.mailproxy.core.upstream;

import io.mailproxy.core.credentials.UpstreamCredentials.Login;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collection;
import java.util.Locale;
import java.util.Optional;

/**
 * One SASL mechanism on the client side (RFC 4422): an optional initial response, then an answer to each server
 * challenge. Responses are base64 and hold secrets: they are never logged ({@link #MASK} stands in for them).
 */
interface SaslMechanism {

    String MASK = "****";

    /** The mechanism name as sent in AUTH / AUTHENTICATE. */
    String name();

    /** The base64 initial response, if the mechanism has one. */
    Optional<String> initialResponse();

    /**
     * The base64 answer to a challenge (base64, possibly empty). A mechanism whose exchange is over answers
     * {@code ""} (XOAUTH2 acknowledging its error challenge) or {@code "*"} (cancel).
     */
    String respond(String challenge);

    /** What the server said in a challenge that ended the exchange (XOAUTH2's JSON error), for the log. */
    default Optional<String> serverError() {
        return Optional.empty();
    }

    /**
     * The mechanism for a login: XOAUTH2 for a bearer token (even when not advertised, the server's refusal then
     * says why); for a password PLAIN when offered, else LOGIN when offered, else empty (the protocol's own
     * USER/PASS or LOGIN command).
     *
     * @param offered upper-case mechanism names the server advertised
     */
    static Optional<SaslMechanism> choose(Login login, Collection<String> offered) {
        if (login instanceof Login.Bearer b) {
            return Optional.of(new XOAuth2Mechanism(b.user(), b.token().value()));
        }
        Login.Password p = (Login.Password) login;
        if (offered.contains("PLAIN")) {
            return Optional.of(new PlainMechanism(p.user(), p.password()));
        }
        if (offered.contains("LOGIN")) {
            return Optional.of(new LoginMechanism(p.user(), p.password()));
        }
        return Optional.empty();
    }

    static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    /** Decodes a challenge for the log; unreadable input is shown as-is. */
    static String decodeChallenge(String challenge) {
        try {
            return new String(Base64.getDecoder().decode(challenge.trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return challenge;
        }
    }

    static String upper(String s) {
        return s.toUpperCase(Locale.ROOT);
    }
}
