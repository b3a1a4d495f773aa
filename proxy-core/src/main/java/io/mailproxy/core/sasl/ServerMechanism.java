package io.mailproxy.core.sasl;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * One server-side SASL exchange: a strategy per mechanism, a new instance per attempt. The frontend sends each
 * {@link Challenge} in its protocol ({@code + } in IMAP and POP3, {@code 334 } in SMTP), handles the client's
 * {@code *} (cancel) itself, and gives every other response line to {@link #next}. Responses hold secrets: nothing
 * here logs, and a step's text never quotes the client.
 */
public abstract sealed class ServerMechanism permits ServerPlain, ServerLogin {

    public static final String PLAIN = "PLAIN";
    public static final String LOGIN = "LOGIN";

    /** What the exchange needs next. */
    public sealed interface Step permits Challenge, Credentials, Malformed, Refused { }

    /** Send this (base64, maybe empty) challenge and wait for a response line. */
    public record Challenge(String base64) implements Step { }

    /** The exchange is complete: check these. The caller clears {@code password} once checked. */
    public record Credentials(String login, byte[] password) implements Step {
        @Override
        public String toString() {
            return "Credentials[login=" + login + ", password=****]";
        }
    }

    /** The response breaks the mechanism's syntax: the protocol's syntax error (BAD, -ERR, 501). */
    public record Malformed(String why) implements Step {
        public static final Malformed NOT_BASE64 = new Malformed("not base64");

        public boolean notBase64() {
            return equals(NOT_BASE64);
        }
    }

    /** The response is well-formed but cannot authenticate anyone: the protocol's authentication failure. */
    public record Refused(String why) implements Step { }

    ServerMechanism() {
    }

    /** The mechanism name as offered (upper case). */
    public abstract String name();

    /**
     * @param initial the initial response (RFC 4959, RFC 5034 section 4, RFC 4954 section 4); {@code =} is an empty
     *                one; null when the client sent none
     */
    public abstract Step start(String initial);

    /** @param response a client response line, base64 (not {@code *}, which the frontend handles) */
    public abstract Step next(String response);

    /**
     * A new exchange of the named mechanism (any case), or null when it is not among {@code offered} or not known.
     *
     * @param offered the mechanisms the frontend advertises, e.g. {@code List.of(PLAIN, LOGIN)}
     */
    public static ServerMechanism forName(String name, List<String> offered) {
        String upper = name.toUpperCase(Locale.ROOT);
        if (!offered.contains(upper)) {
            return null;
        }
        return switch (upper) {
            case PLAIN -> new ServerPlain();
            case LOGIN -> new ServerLogin();
            default -> null;
        };
    }

    /** Base64 of a response line (surrounding blanks ignored); null when it is not base64. */
    static byte[] decode(String response) {
        try {
            return Base64.getDecoder().decode(response.strip());
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** An initial response: {@code =} stands for an empty one (RFC 4954 section 4, RFC 4959, RFC 5034). */
    static byte[] decodeInitial(String initial) {
        return initial.strip().equals("=") ? new byte[0] : decode(initial);
    }

    /** Whether {@code length} bytes from {@code offset} are well-formed UTF-8 (no overlong forms, no surrogates). */
    static boolean isUtf8(byte[] bytes, int offset, int length) {
        CharBuffer chars = null;
        try {
            chars = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes, offset, length));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        } finally {
            if (chars != null && chars.hasArray()) {
                Arrays.fill(chars.array(), '\0');   // it may hold a password
            }
        }
    }
}
