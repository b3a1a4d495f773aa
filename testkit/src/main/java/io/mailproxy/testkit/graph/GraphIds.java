package io.mailproxy.testkit.graph;

import java.security.SecureRandom;
import java.util.Base64;

/**
 * Ids shaped like Exchange's: immutable message ids are long base64url strings (about 150 characters, with
 * {@code -}, {@code _} and a trailing {@code =}; case-sensitive: MGDC concepts/outlook-immutable-id.md), so a client
 * that truncates, lower-cases or fails to escape them breaks against the fake as it would against Graph.
 */
final class GraphIds {
    private static final String MESSAGE_PREFIX = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A";
    private static final String FOLDER_PREFIX = "AAMkADI5MAAIT3drCAAuAAAAAAAaPr";
    private final SecureRandom random = new SecureRandom();

    String message() {
        return MESSAGE_PREFIX + random(84) + "AAA=";
    }

    String folder() {
        return FOLDER_PREFIX + random(48) + "AAA=";
    }

    String attachment() {
        return "AAMkADI5MAAIT3drCAAuAAAAAAAaPrEBAAAA" + random(42) + "=";
    }

    String opaque(int bytes) {
        return random(bytes);
    }

    private String random(int bytes) {
        byte[] b = new byte[bytes];
        random.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
