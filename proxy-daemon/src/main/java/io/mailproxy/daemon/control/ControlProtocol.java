package io.mailproxy.daemon.control;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * One request per connection: a line {@code VERB [ARG]}, an optional second line with a base64 payload; the answer is
 * {@code OK} or {@code ERR reason} followed by lines of text and a line holding only {@code .}.
 */
final class ControlProtocol {
    static final String PING = "PING";
    static final String SECRET_PUT = "SECRET-PUT";
    static final String SECRET_DELETE = "SECRET-DELETE";
    static final String SECRET_LIST = "SECRET-LIST";
    static final String SECRET_GET = "SECRET-GET";
    static final String STATUS = "STATUS";
    static final String CHECK = "CHECK";
    static final String QUEUE_LIST = "QUEUE-LIST";
    static final String QUEUE_RETRY = "QUEUE-RETRY";
    static final String QUEUE_DELETE = "QUEUE-DELETE";
    static final String END = ".";

    /** Requests are tiny; a larger one is an attack or a bug. */
    static final int MAX_REQUEST = 64 * 1024;

    private ControlProtocol() { }

    static String encode(String value) {
        return Base64.getEncoder().encodeToString(value.getBytes(StandardCharsets.UTF_8));
    }

    static String decode(String b64) {
        return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    }
}
