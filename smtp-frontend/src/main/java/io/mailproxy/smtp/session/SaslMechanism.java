package io.mailproxy.smtp.session;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;

/** One SASL exchange of RFC 4954 AUTH (a strategy per mechanism, one instance per attempt). */
sealed interface SaslMechanism permits SaslMechanism.Plain, SaslMechanism.Login {

    /** What the exchange needs next. */
    sealed interface Step permits Challenge, Credentials, Malformed, Refused { }

    /** Send {@code 334 <base64>} and wait for a response line. */
    record Challenge(String base64) implements Step { }

    /** The exchange is complete; the caller clears {@code password} after use. */
    record Credentials(String login, byte[] password) implements Step { }

    /** The response cannot be decoded ({@code 501}). */
    record Malformed(String why) implements Step { }

    /** The exchange asks for something not offered (acting as another user): {@code 535}. */
    record Refused(String why) implements Step { }

    /** @param initial the initial response (RFC 4954 4), null when none was given */
    Step start(String initial);

    /** @param response a client response line (not {@code *}, which the session handles) */
    Step next(String response);

    static SaslMechanism forName(String name) {
        return switch (name) {
            case "PLAIN" -> new Plain();
            case "LOGIN" -> new Login();
            default -> null;
        };
    }

    /** Decodes base64; {@code "="} is an empty initial response. Null when not base64. */
    static byte[] decode(String text) {
        if (text.equals("=")) {
            return new byte[0];
        }
        try {
            return Base64.getDecoder().decode(text.trim());
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** RFC 4616: {@code [authzid] NUL authcid NUL passwd}. */
    final class Plain implements SaslMechanism {
        @Override
        public Step start(String initial) {
            return initial == null ? new Challenge("") : next(initial);
        }

        @Override
        public Step next(String response) {
            byte[] raw = decode(response);
            if (raw == null) {
                return new Malformed("not base64");
            }
            try {
                int first = indexOf(raw, 0);
                int second = first < 0 ? -1 : indexOf(raw, first + 1);
                if (second < 0) {
                    return new Malformed("PLAIN response without two NULs");
                }
                String authzid = new String(raw, 0, first, StandardCharsets.UTF_8);
                String authcid = new String(raw, first + 1, second - first - 1, StandardCharsets.UTF_8);
                if (!authzid.isEmpty() && !authzid.equals(authcid)) {
                    return new Refused("PLAIN authorization identity differs from the user name");
                }
                return new Credentials(authcid, Arrays.copyOfRange(raw, second + 1, raw.length));
            } finally {
                Arrays.fill(raw, (byte) 0);
            }
        }

        private static int indexOf(byte[] raw, int from) {
            for (int i = from; i < raw.length; i++) {
                if (raw[i] == 0) {
                    return i;
                }
            }
            return -1;
        }
    }

    /** The LOGIN mechanism (draft-murchison-sasl-login): user name, then password, each in base64. */
    final class Login implements SaslMechanism {
        private static final String USERNAME = Base64.getEncoder().encodeToString("Username:".getBytes(StandardCharsets.US_ASCII));
        private static final String PASSWORD = Base64.getEncoder().encodeToString("Password:".getBytes(StandardCharsets.US_ASCII));
        private String user;

        @Override
        public Step start(String initial) {
            return initial == null ? new Challenge(USERNAME) : next(initial);
        }

        @Override
        public Step next(String response) {
            byte[] raw = decode(response);
            if (raw == null) {
                return new Malformed("not base64");
            }
            if (user == null) {
                user = new String(raw, StandardCharsets.UTF_8);
                return new Challenge(PASSWORD);
            }
            return new Credentials(user, raw);
        }
    }
}
