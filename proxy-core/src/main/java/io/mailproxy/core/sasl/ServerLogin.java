package io.mailproxy.core.sasl;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;

/**
 * LOGIN (draft-murchison-sasl-login, not a standard): the challenge {@code Username:}, the user name, the challenge
 * {@code Password:}, the password, each in base64. The same rules as {@link ServerPlain}: UTF-8 and no NUL, else
 * {@link Malformed} at once; an empty user name or password is {@link Refused} after the password, like any failed
 * login.
 */
final class ServerLogin extends ServerMechanism {

    private static final String USERNAME = Base64.getEncoder().encodeToString("Username:".getBytes(StandardCharsets.US_ASCII));
    private static final String PASSWORD = Base64.getEncoder().encodeToString("Password:".getBytes(StandardCharsets.US_ASCII));

    private String user;

    @Override
    public String name() {
        return LOGIN;
    }

    @Override
    public Step start(String initial) {
        return initial == null ? new Challenge(USERNAME) : answer(ServerMechanism.decodeInitial(initial));
    }

    @Override
    public Step next(String response) {
        return answer(ServerMechanism.decode(response));
    }

    private Step answer(byte[] raw) {
        if (raw == null) {
            return Malformed.NOT_BASE64;
        }
        if (!wellFormed(raw)) {
            Arrays.fill(raw, (byte) 0);
            return new Malformed("LOGIN " + (user == null ? "user name" : "password") + " is not UTF-8 without NUL");
        }
        if (user == null) {
            user = new String(raw, StandardCharsets.UTF_8);
            return new Challenge(PASSWORD);
        }
        if (user.isEmpty() || raw.length == 0) {
            Arrays.fill(raw, (byte) 0);
            return new Refused("LOGIN " + (user.isEmpty() ? "user name" : "password") + " is empty");
        }
        return new Credentials(user, raw);
    }

    private static boolean wellFormed(byte[] raw) {
        for (byte b : raw) {
            if (b == 0) {
                return false;
            }
        }
        return ServerMechanism.isUtf8(raw, 0, raw.length);
    }
}
