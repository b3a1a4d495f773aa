package io.mailproxy.core.sasl;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * PLAIN (RFC 4616 section 2): {@code message = [authzid] UTF8NUL authcid UTF8NUL passwd}, UTF-8, with authcid and
 * passwd {@code 1*SAFE} (no NUL). Exactly two NULs and valid UTF-8, else {@link Malformed}; an empty authcid or
 * passwd fails verification ("SHALL fail" for an empty prepared string), and so does an authzid other than the
 * authcid (nobody may act as another user here): {@link Refused}, before any password is checked.
 */
final class ServerPlain extends ServerMechanism {

    @Override
    public String name() {
        return PLAIN;
    }

    @Override
    public Step start(String initial) {
        return initial == null ? new Challenge("") : message(ServerMechanism.decodeInitial(initial));
    }

    @Override
    public Step next(String response) {
        return message(ServerMechanism.decode(response));
    }

    private static Step message(byte[] raw) {
        if (raw == null) {
            return Malformed.NOT_BASE64;
        }
        try {
            int first = indexOfNul(raw, 0);
            int second = first < 0 ? -1 : indexOfNul(raw, first + 1);
            if (second < 0 || indexOfNul(raw, second + 1) >= 0) {
                return new Malformed("PLAIN response without exactly two NULs");
            }
            if (!ServerMechanism.isUtf8(raw, 0, raw.length)) {
                return new Malformed("PLAIN response is not UTF-8");
            }
            String authzid = new String(raw, 0, first, StandardCharsets.UTF_8);
            String authcid = new String(raw, first + 1, second - first - 1, StandardCharsets.UTF_8);
            if (authcid.isEmpty()) {
                return new Refused("PLAIN authentication identity is empty");
            }
            if (!authzid.isEmpty() && !authzid.equals(authcid)) {
                return new Refused("PLAIN authorization identity differs from the user name");
            }
            if (second + 1 == raw.length) {
                return new Refused("PLAIN password is empty");
            }
            return new Credentials(authcid, Arrays.copyOfRange(raw, second + 1, raw.length));
        } finally {
            Arrays.fill(raw, (byte) 0);
        }
    }

    private static int indexOfNul(byte[] raw, int from) {
        for (int i = from; i < raw.length; i++) {
            if (raw[i] == 0) {
                return i;
            }
        }
        return -1;
    }
}
