package io.mailproxy.core.sasl;

import static org.assertj.core.api.Assertions.assertThat;

import io.mailproxy.core.sasl.ServerMechanism.Challenge;
import io.mailproxy.core.sasl.ServerMechanism.Credentials;
import io.mailproxy.core.sasl.ServerMechanism.Malformed;
import io.mailproxy.core.sasl.ServerMechanism.Refused;
import io.mailproxy.core.sasl.ServerMechanism.Step;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The rules of server-side PLAIN (RFC 4616 section 2) and LOGIN, one row a case, as all three frontends apply them. */
class ServerMechanismTest {

    private static final String USERNAME = "VXNlcm5hbWU6";
    private static final String PASSWORD = "UGFzc3dvcmQ6";
    /** An invalid UTF-8 sequence: C3 must be followed by a continuation byte. */
    private static final String BAD_UTF8 = "\u00c3(";

    /**
     * Each row: the mechanism, the initial response as sent (null: none; a string in {@code <>} is base64 of its
     * ISO-8859-1 bytes), then the response lines, and what the last step must be.
     */
    static Stream<Arguments> exchanges() {
        return Stream.of(
                // PLAIN: accepted
                row("PLAIN", b64("\0alice\0secret"), List.of(), "login alice / secret"),
                row("PLAIN", b64("alice\0alice\0secret"), List.of(), "login alice / secret"),
                row("PLAIN", " " + b64("\0alice\0secret") + " ", List.of(), "login alice / secret"),
                row("PLAIN", null, List.of(), "challenge "),
                row("PLAIN", null, List.of(b64("\0alice\0secret")), "login alice / secret"),
                row("PLAIN", b64("\0j\u00fcrgen\0p\u00e4ss w\u00f6rd"), List.of(), "login j\u00fcrgen / p\u00e4ss w\u00f6rd"),
                row("PLAIN", b64("\0" + "a".repeat(255) + "\0" + "p".repeat(255)), List.of(),
                        "login " + "a".repeat(255) + " / " + "p".repeat(255)),
                // PLAIN: malformed (the grammar of RFC 4616 section 2)
                row("PLAIN", "!!!", List.of(), "not base64"),
                row("PLAIN", "=", List.of(), "malformed"),
                row("PLAIN", null, List.of("="), "not base64"),
                row("PLAIN", null, List.of(""), "malformed"),
                row("PLAIN", b64("alice\0secret"), List.of(), "malformed"),
                row("PLAIN", b64("\0alice\0secret\0"), List.of(), "malformed"),
                row("PLAIN", b64("\0alice\0sec\0ret"), List.of(), "malformed"),
                row("PLAIN", b64("\0\0alice\0secret"), List.of(), "malformed"),
                row("PLAIN", b64raw("\0alice\0" + BAD_UTF8), List.of(), "malformed"),
                row("PLAIN", b64raw("\0ali" + BAD_UTF8 + "\0secret"), List.of(), "malformed"),
                row("PLAIN", b64raw(BAD_UTF8 + "\0alice\0secret"), List.of(), "malformed"),
                row("PLAIN", b64raw("\0alice\0\u00c0\u00af"), List.of(), "malformed"),   // overlong "/"
                // PLAIN: refused before any password is checked
                row("PLAIN", b64("\0\0secret"), List.of(), "refused"),
                row("PLAIN", b64("alice\0\0secret"), List.of(), "refused"),
                row("PLAIN", b64("\0alice\0"), List.of(), "refused"),
                row("PLAIN", b64("bob\0alice\0secret"), List.of(), "refused"),
                row("PLAIN", b64("Alice\0alice\0secret"), List.of(), "refused"),
                // LOGIN
                row("LOGIN", null, List.of(), "challenge " + USERNAME),
                row("LOGIN", null, List.of(b64("alice")), "challenge " + PASSWORD),
                row("LOGIN", null, List.of(b64("alice"), b64("secret")), "login alice / secret"),
                row("LOGIN", b64("alice"), List.of(), "challenge " + PASSWORD),
                row("LOGIN", b64("alice"), List.of(b64("p\u00e4ss")), "login alice / p\u00e4ss"),
                row("LOGIN", "!!!", List.of(), "not base64"),
                row("LOGIN", b64("alice"), List.of("="), "not base64"),
                row("LOGIN", "=", List.of(), "challenge " + PASSWORD),
                row("LOGIN", "=", List.of(b64("secret")), "refused"),
                row("LOGIN", b64("alice"), List.of(""), "refused"),
                row("LOGIN", b64raw("ali" + BAD_UTF8), List.of(), "malformed"),
                row("LOGIN", b64("alice"), List.of(b64raw(BAD_UTF8)), "malformed"),
                row("LOGIN", b64("al\0ice"), List.of(), "malformed"),
                row("LOGIN", b64("alice"), List.of(b64("sec\0ret")), "malformed"));
    }

    @ParameterizedTest(name = "{0} initial={1} then {2}: {3}")
    @MethodSource("exchanges")
    void exchange(String name, String initial, List<String> responses, String expected) {
        ServerMechanism mechanism = ServerMechanism.forName(name, List.of(ServerMechanism.PLAIN, ServerMechanism.LOGIN));
        assertThat(mechanism.name()).isEqualTo(name);
        Step step = mechanism.start(initial);
        for (String response : responses) {
            assertThat(step).as("a step before the last").isInstanceOf(Challenge.class);
            step = mechanism.next(response);
        }
        assertThat(describe(step)).isEqualTo(expected);
    }

    @Test
    void onlyOfferedMechanismsInAnyCase() {
        assertThat(ServerMechanism.forName("plain", List.of(ServerMechanism.PLAIN))).isInstanceOf(ServerPlain.class);
        assertThat(ServerMechanism.forName("Login", List.of(ServerMechanism.PLAIN, ServerMechanism.LOGIN)))
                .isInstanceOf(ServerLogin.class);
        assertThat(ServerMechanism.forName("LOGIN", List.of(ServerMechanism.PLAIN))).isNull();
        assertThat(ServerMechanism.forName("CRAM-MD5", List.of("CRAM-MD5"))).isNull();
        assertThat(ServerMechanism.forName("XOAUTH2", List.of(ServerMechanism.PLAIN))).isNull();
    }

    @Test
    void stepsNeverShowThePassword() {
        Step step = ServerMechanism.forName("PLAIN", List.of("PLAIN")).start(b64("\0alice\0s3cret"));
        assertThat(step.toString()).contains("alice").doesNotContain("s3cret");
    }

    private static Arguments row(String name, String initial, List<String> responses, String expected) {
        return Arguments.of(name, initial, responses, expected);
    }

    private static String describe(Step step) {
        if (step instanceof Challenge c) {
            return "challenge " + c.base64();
        }
        if (step instanceof Credentials c) {
            return "login " + c.login() + " / " + new String(c.password(), StandardCharsets.UTF_8);
        }
        if (step instanceof Malformed m) {
            return m.notBase64() ? "not base64" : "malformed";
        }
        return step instanceof Refused ? "refused" : String.valueOf(step);
    }

    private static String b64(String text) {
        return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Base64 of the string's characters taken as bytes (ISO-8859-1), to send bytes that are not UTF-8. */
    private static String b64raw(String bytes) {
        return Base64.getEncoder().encodeToString(bytes.getBytes(StandardCharsets.ISO_8859_1));
    }
}
